package checkspec

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/hasidecar/hasidecar/sdk"
	"github.com/hasidecar/hasidecar/sdk/pluginpb"
)

// replyPlugin answers every call with the same wire bytes, decoded into the
// call's reply type as gRPC would: the fuzzer plays a broken or hostile plugin.
type replyPlugin struct{ wire []byte }

func (p replyPlugin) reply(m proto.Message) error { return proto.Unmarshal(p.wire, m) }

func (p replyPlugin) Schema(context.Context, *pluginpb.SchemaRequest, ...grpc.CallOption) (*pluginpb.SchemaResponse, error) {
	r := &pluginpb.SchemaResponse{}
	return r, p.reply(r)
}

func (p replyPlugin) Validate(context.Context, *pluginpb.ValidateRequest, ...grpc.CallOption) (*pluginpb.ValidateResponse, error) {
	r := &pluginpb.ValidateResponse{}
	return r, p.reply(r)
}

func (p replyPlugin) Configure(context.Context, *pluginpb.ConfigureRequest, ...grpc.CallOption) (*pluginpb.ConfigureResponse, error) {
	r := &pluginpb.ConfigureResponse{}
	return r, p.reply(r)
}

func (p replyPlugin) Check(context.Context, *pluginpb.CheckRequest, ...grpc.CallOption) (*pluginpb.CheckResponse, error) {
	r := &pluginpb.CheckResponse{}
	return r, p.reply(r)
}

func (p replyPlugin) Remove(context.Context, *pluginpb.RemoveRequest, ...grpc.CallOption) (*pluginpb.RemoveResponse, error) {
	r := &pluginpb.RemoveResponse{}
	return r, p.reply(r)
}

// replySeeds are well-formed replies of each kind, the starting points.
func replySeeds(t testing.TB) [][]byte {
	msgs := []proto.Message{
		&pluginpb.SchemaResponse{Attributes: []*pluginpb.Attribute{
			{Name: "url", Type: "string", Required: true, Description: "what to fetch"},
			{Name: "status_codes", Type: "list(number)"},
			{Name: "headers", Type: "map(string)"},
		}},
		&pluginpb.ValidateResponse{Diagnostics: []*pluginpb.Diagnostic{
			{Severity: pluginpb.Diagnostic_ERROR, Summary: "bad url", Detail: "no scheme", Attribute: "url"},
			{Severity: pluginpb.Diagnostic_WARNING, Summary: "slow", Attribute: "nope"},
		}},
		&pluginpb.CheckResponse{Healthy: true, Message: "200 OK", LatencyNs: 1500000},
		&pluginpb.CheckResponse{Healthy: false, Message: "line one\nline two\x1b[31m\u202e", LatencyNs: -5},
	}
	var out [][]byte
	for _, m := range msgs {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// userBlock is a config block as a user wrote it, against which a fuzzed
// schema and fuzzed diagnostics are applied.
const userBlock = `url = "http://127.0.0.1/"
status_codes = [200, 301]
headers = { Host = "example.com" }
`

// FuzzPluginReply feeds arbitrary wire bytes, as a plugin's reply to each
// call, through everything the host does with it: the SDK client's checks,
// the schema turned into a decoder and applied to a user's block, the
// diagnostics placed on that block, the check result. None of it may panic,
// and whatever reaches logs and terminals must be clean, bounded text.
func FuzzPluginReply(f *testing.F) {
	for _, s := range replySeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, wire []byte) {
		ctx := context.Background()
		c := sdk.NewClient(replyPlugin{wire: wire})
		file, diags := hclsyntax.ParseConfig([]byte(userBlock), "hasidecar.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}

		if schema, err := c.Schema(ctx); err == nil {
			for _, a := range schema.Attributes {
				cleanText(t, "attribute name", a.Name, 128)
			}
			// A schema the host cannot use is reported, never applied.
			if out, ds := Decode(file.Body, schema, "fuzz"); !ds.HasErrors() && out == nil {
				t.Errorf("Decode accepted the block but produced no configuration")
			}
		}

		if ds, err := c.Validate(ctx, []byte(`{}`)); err == nil {
			if len(ds) > 65 {
				t.Errorf("%d diagnostics passed on, want at most 64 and a note", len(ds))
			}
			for _, d := range ds {
				cleanText(t, "summary", d.Summary, 1024)
				cleanText(t, "detail", d.Detail, 1024)
			}
			for _, d := range PluginDiagnostics(file.Body, ds, "fuzz") {
				if d.Subject == nil || d.Subject.Filename != "hasidecar.hcl" {
					t.Errorf("a plugin diagnostic is not placed in the user's file: %+v", d)
				}
			}
		}

		if res, latency, err := c.Check(ctx, "c"); err == nil {
			cleanText(t, "message", res.Message, 512)
			if latency < 0 {
				t.Errorf("latency %v passed on", latency)
			}
		}
	})
}

// cleanText fails unless s is valid UTF-8 of at most max bytes, with no
// control character (a plugin must not write escape sequences or extra log
// lines through us).
func cleanText(t *testing.T, what, s string, max int) {
	t.Helper()
	if len(s) > max {
		t.Errorf("%s of %d bytes passed on, want at most %d", what, len(s), max)
	}
	if !utf8.ValidString(s) {
		t.Errorf("%s %q is not valid UTF-8", what, s)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || (r >= 0x7f && r < 0xa0) }) {
		t.Errorf("%s %q holds a control character", what, s)
	}
}
