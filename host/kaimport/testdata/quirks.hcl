# Imported from testdata/quirks.conf by `hasidecar import`.
# Each block names the keepalived line it came from; what was not carried over
# was listed on stderr. Check it with `hasidecar validate --config FILE`.

# vrrp_script chk_fault, testdata/quirks.conf:17
check "chk_fault" {
  plugin   = "script"
  interval = "1s"
  timeout  = "1s"
  rise     = 1
  fall     = 1
  config {
    command = ["/bin/sh", "-c", "exit 0"]
  }
}

# vrrp_instance VI_1, testdata/quirks.conf:22
vrrp_instance "VI_1" {
  interface         = "eth0"
  virtual_router_id = 1
  priority          = 255
  version           = 3
  advert_interval   = "130ms"
  fast_preempt      = false
  virtual_ips       = ["198.51.100.20/32", "198.51.100.21/24"]
  use_vmac          = true
  vmac_interface    = "vip20"
  vmac_xmit_base    = true
  track_check "chk_fault" { weight = 0 } # testdata/quirks.conf:42
  track_interface "eth1" {}
  track_interface "eth2" {}
}

# vrrp_instance VI_2, testdata/quirks.conf:55
vrrp_instance "VI_2" {
  interface         = "eth0"
  virtual_router_id = 2
  priority          = 100
  version           = 2
  advert_interval   = "2s"
  preempt           = false
  fast_preempt      = false
  virtual_ips       = ["198.51.100.30/32"]
}

# vrrp_instance VI_6, testdata/quirks.conf:74
vrrp_instance "VI_6" {
  interface         = "eth0"
  virtual_router_id = 1
  priority          = 100
  version           = 3
  advert_interval   = "1s"
  fast_preempt      = false
  virtual_ips       = ["2001:db8:51::100/64"]
}

# vrrp_sync_group G1, testdata/quirks.conf:6
sync_group "G1" {
  instances     = ["VI_1", "VI_2"]
  notify_master = ["/etc/keepalived/group.sh", "master"]
}
