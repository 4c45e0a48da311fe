// Command hasidecar-plugin-icmp checks that an address answers ICMP echo
// (ping).
package main

import "github.com/hasidecar/hasidecar/sdk"

func main() { sdk.Serve(checker{}) }
