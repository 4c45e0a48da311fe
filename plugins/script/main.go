// Command hasidecar-plugin-script runs a program as a health check
// (keepalived's MISC_CHECK): exit status 0 is healthy, 1 is not.
package main

import "github.com/hasidecar/hasidecar/sdk"

func main() { sdk.Serve(checker{}) }
