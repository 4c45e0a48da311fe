//go:build tools

// Pins the modules the design names until the packages that use them land.
package hasidecar
import (
 _ "github.com/hashicorp/hcl/v2"
 _ "github.com/hashicorp/hcl/v2/hclsimple"
 _ "github.com/hashicorp/hcl/v2/gohcl"
 _ "github.com/zclconf/go-cty/cty"
 _ "github.com/vishvananda/netlink"
 _ "github.com/vishvananda/netns"
 _ "github.com/mdlayher/arp"
 _ "github.com/mdlayher/ethernet"
 _ "go.uber.org/zap"
 _ "golang.org/x/net/ipv4"
 _ "golang.org/x/sys/unix"
)

