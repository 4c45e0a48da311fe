node_name  = "linux-01"                 # default: hostname
plugin_dir = "/usr/lib/hasidecar/plugins"  # where hasidecar-plugin-* live; default: next to the binary
log_level  = "info"                     # debug | info | warn | error
log_format = "json"                     # json | console

control { socket = "/run/hasidecar/hasidecar.sock" }
metrics { listen = "127.0.0.1:9465" }   # optional; Prometheus text format at /metrics

check "nginx" {
  plugin   = "httpget"                  # resolves to hasidecar-plugin-httpget in plugin_dir
  interval = "200ms"                    # durations are Go duration strings
  timeout  = "150ms"
  rise     = 2                          # consecutive passes to become healthy
  fall     = 2                          # consecutive failures to become unhealthy
  config {                              # schema declared BY THE PLUGIN; validated at load
    url         = "http://127.0.0.1/healthz"
    status_code = [200]
    digest      = "3858f62230ac3c915f300c664312c63f"   # optional MD5 of the body
  }
}

vrrp_instance "VI_1" {
  interface         = "eth0"
  virtual_router_id = 51                # 1..255
  priority          = 150               # 1..254 (255 = address owner)
  version           = 3                 # 2 (RFC 3768) or 3 (RFC 5798); default 3
  advert_interval   = "1s"              # v3: 10ms steps; v2: whole seconds
  preempt           = true
  preempt_delay     = "0s"
  virtual_ips       = ["198.51.100.100/24"]
  unicast_source    = "198.51.100.128"  # optional
  unicast_peers     = ["198.51.100.130"]   # optional: unicast instead of 224.0.0.18
  auth_pass         = "secret1"         # optional, VRRPv2 simple password (as keepalived PASS)

  track_check "nginx" { weight = -60 }  # weight < 0: added while failing; > 0: added while
                                        # passing; 0: FAULT while failing (keepalived semantics)
  track_interface "eth0" {}             # link down => FAULT
  notify = "/etc/hasidecar/notify.sh"   # run on every transition: INSTANCE STATE PRIORITY
}
