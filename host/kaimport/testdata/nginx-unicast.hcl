# Imported from testdata/nginx-unicast.conf by `hasidecar import`.
# Each block names the keepalived line it came from; what was not carried over
# was listed on stderr. Check it with `hasidecar validate --config FILE`.

node_name = "lb-1" # router_id, testdata/nginx-unicast.conf:3

# vrrp_script chk_nginx, testdata/nginx-unicast.conf:9
check "chk_nginx" {
  plugin   = "script"
  interval = "2s"
  timeout  = "1s"
  rise     = 2
  fall     = 2
  config {
    command = ["/usr/bin/killall", "-0", "nginx"]
  }
}

# vrrp_instance VI_1, testdata/nginx-unicast.conf:18
vrrp_instance "VI_1" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  version           = 2
  advert_interval   = "1s"
  fast_preempt      = false
  virtual_ips       = ["198.51.100.10/24"]
  unicast_source    = "198.51.100.1"
  unicast_peers     = ["198.51.100.2"]
  auth_pass         = "averylon"
  notify            = "/etc/keepalived/notify.sh"
  notify_master     = ["/etc/keepalived/master.sh", "to master"]
  notify_backup     = ["/etc/keepalived/backup.sh"]
  notify_fault      = ["/etc/keepalived/fault.sh", "fault"]
  notify_stop       = ["/etc/keepalived/stop.sh"]
  track_check "chk_nginx" { weight = -60 } # testdata/nginx-unicast.conf:36
}
