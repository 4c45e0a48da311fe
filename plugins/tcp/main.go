// Command hasidecar-plugin-tcp checks that a TCP port accepts connections
// (keepalived's TCP_CHECK).
package main

import "github.com/hasidecar/hasidecar/sdk"

func main() { sdk.Serve(checker{}) }
