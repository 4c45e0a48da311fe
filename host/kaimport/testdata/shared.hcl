# Imported from testdata/shared.conf by `hasidecar import`.
# Each block names the keepalived line it came from; what was not carried over
# was listed on stderr. Check it with `hasidecar validate --config FILE`.

# vrrp_script chk_nginx, testdata/shared.conf:11
check "chk_nginx" {
  plugin   = "script"
  interval = "1s"
  timeout  = "1s"
  rise     = 1
  fall     = 1
  config {
    command = ["/usr/bin/pidof", "nginx"]
  }
}

# vrrp_instance VI_1, testdata/shared.conf:17
vrrp_instance "VI_1" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  version           = 2
  advert_interval   = "1s"
  preempt           = false
  fast_preempt      = false
  virtual_ips       = ["198.51.100.10/24"]
  unicast_source    = "198.51.100.1"
  unicast_peers     = ["198.51.100.2"]
  track_check "chk_nginx" { weight = 0 } # testdata/shared.conf:32
}

# vrrp_instance VI_2, testdata/shared.d/second.conf:1
vrrp_instance "VI_2" {
  interface         = "eth0"
  virtual_router_id = 52
  priority          = 100
  version           = 2
  advert_interval   = "1s"
  fast_preempt      = false
  virtual_ips       = ["198.51.100.11/24"]
  excluded_ips      = ["203.0.113.11/24"]
}
