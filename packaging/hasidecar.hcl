# /etc/hasidecar/hasidecar.hcl — an example for a two-node nginx pair.
# Change interface, virtual_ips and priority (150 here, 100 on the other
# node), then: hasidecar validate && systemctl enable --now hasidecar

plugin_dir = "/usr/lib/hasidecar/plugins"
log_level  = "info"
log_format = "json"

control { socket = "/run/hasidecar/hasidecar.sock" }
# metrics { listen = "127.0.0.1:9465" }

check "nginx" {
  plugin   = "httpget"
  interval = "200ms"
  timeout  = "150ms"
  rise     = 2
  fall     = 2
  config {
    url = "http://127.0.0.1/"
  }
}

vrrp_instance "VI_1" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  version           = 3
  advert_interval   = "1s"
  virtual_ips       = ["192.0.2.100/24"]
  track_check "nginx" { weight = -60 }
  # notify = "/etc/hasidecar/notify.sh"
}
