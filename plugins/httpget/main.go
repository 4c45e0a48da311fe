// Command hasidecar-plugin-httpget checks a page over HTTP or HTTPS
// (keepalived's HTTP_GET and SSL_GET): its status code and, optionally, the
// MD5 digest of its body.
package main

import "github.com/hasidecar/hasidecar/sdk"

func main() { sdk.Serve(checker{}) }
