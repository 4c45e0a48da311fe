# Imported from testdata/shell.conf by `hasidecar import`.
# Each block names the keepalived line it came from; what was not carried over
# was listed on stderr. Check it with `hasidecar validate --config FILE`.

# vrrp_script chk_http_port, testdata/shell.conf:2
check "chk_http_port" {
  plugin   = "script"
  interval = "1s"
  timeout  = "1s"
  rise     = 1
  fall     = 1
  config {
    command = ["/bin/bash", "-c", "</dev/tcp/127.0.0.1/80"]
  }
}

# vrrp_script chk_pipe, testdata/shell.conf:7
check "chk_pipe" {
  plugin   = "script"
  interval = "2s"
  timeout  = "2s"
  rise     = 1
  fall     = 1
  config {
    command = ["/bin/sh", "-c", "pidof nginx | grep -q . && test -s /run/nginx.pid"]
  }
}

# vrrp_script chk_plain, testdata/shell.conf:12
check "chk_plain" {
  plugin   = "script"
  interval = "2s"
  timeout  = "2s"
  rise     = 1
  fall     = 1
  config {
    command = ["/usr/bin/killall", "-0", "nginx"]
  }
}

# vrrp_script chk_quoted, testdata/shell.conf:29
check "chk_quoted" {
  plugin   = "script"
  interval = "1s"
  timeout  = "1s"
  rise     = 1
  fall     = 1
  config {
    command = ["/usr/bin/bash", "-c", "</dev/tcp/127.0.0.1/80"]
  }
}

# vrrp_instance VI_1, testdata/shell.conf:16
vrrp_instance "VI_1" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  version           = 2
  advert_interval   = "1s"
  fast_preempt      = false
  virtual_ips       = ["198.51.100.10/24"]
  track_check "chk_http_port" { weight = -2 } # testdata/shell.conf:24
  track_check "chk_pipe" { weight = -60 } # testdata/shell.conf:25
  track_check "chk_plain" { weight = 0 } # testdata/shell.conf:26
}

# vrrp_instance VI_2, testdata/shell.conf:33
vrrp_instance "VI_2" {
  interface         = "eth0"
  virtual_router_id = 52
  priority          = 150
  version           = 2
  advert_interval   = "1s"
  fast_preempt      = false
  virtual_ips       = ["198.51.100.11/24"]
  track_check "chk_quoted" { weight = 0 } # testdata/shell.conf:41
}
