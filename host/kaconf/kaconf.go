// Package kaconf reads a keepalived.conf the way keepalived 2.2.7 reads it
// (lib/parser.c) and returns its statements as a tree, each with the file
// and line it came from. It knows the grammar only, not the keywords:
// comments (# and ! outside double quotes, \# and \! for the characters
// themselves), braces on the same line as other words, double-quoted
// words, `include` with globs relative to the including file, $NAME=value
// definitions used as $NAME or ${NAME}, and @ID / @^ID lines kept only on
// the node whose id matches (or does not).
//
// Files are read only through the Files given, so the parser is pure and
// table-testable. No input makes it panic; what keepalived would complain
// about comes back as a Diagnostic and the rest is still returned.
package kaconf

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// Files is how the parser reads: ReadFile returns a file's bytes, Glob
// the paths matching a pattern (as glob(3), sorted).
type Files interface {
	ReadFile(name string) ([]byte, error)
	Glob(pattern string) ([]string, error)
}

// Options choose how a file is read.
type Options struct {
	// NodeID is keepalived's config id (its -i option): lines starting
	// @NodeID are kept, @^NodeID dropped. keepalived's default is the host
	// name up to its first dot (see DefaultNodeID).
	NodeID string
	Files  Files
	// OnConditional, if set, is told of every @ID or @^ID line: its id,
	// whether the id is NodeID, and where it is. The importer uses it to
	// say when no line was meant for this node.
	OnConditional func(id string, matched bool, pos Pos)
}

// Pos is where a statement is: the file as it was named or globbed, and
// the 1-based line.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Statement is one keyword line, with its block when a `{` followed it.
type Statement struct {
	Pos Pos
	// Words are the line split as keepalived splits a keyword line
	// (alloc_strvec): on blanks, a double-quoted run being one word
	// without its quotes. Words[0] is the keyword.
	Words []string
	// Raw is the line after comments, conditionals and definitions, as a
	// keyword handler sees it (buf_extern); scripts are split again from it.
	Raw string
	// Block holds the statements between the braces; nil without braces.
	Block    []*Statement
	HasBlock bool
}

// Keyword is Words[0].
func (s *Statement) Keyword() string {
	if len(s.Words) == 0 {
		return ""
	}
	return s.Words[0]
}

// Arg is Words[i], or "" when the line is shorter.
func (s *Statement) Arg(i int) string {
	if i < len(s.Words) {
		return s.Words[i]
	}
	return ""
}

// Diagnostic is a problem keepalived would report, at its line.
type Diagnostic struct {
	Pos Pos
	Msg string
}

func (d Diagnostic) String() string { return d.Pos.String() + ": " + d.Msg }

// DefaultNodeID is keepalived's default config id: the host name up to
// its first dot.
func DefaultNodeID(hostname string) string {
	if i := strings.IndexByte(hostname, '.'); i >= 0 {
		return hostname[:i]
	}
	return hostname
}

// Limits that keep a hostile file from exhausting the parser.
const (
	maxIncludeDepth = 32      // nested includes (keepalived has none; a loop would never end)
	maxFiles        = 1000    // files read in all
	maxLineLen      = 2048    // keepalived's MAXBUF: longer expansions are refused
	maxExpansions   = 100     // definition expansions on one line
	maxStatements   = 1 << 20 // statements in all
)

// Parse reads the file name and everything it includes.
func Parse(name string, opts Options) ([]*Statement, []Diagnostic) {
	p := &parser{opts: opts, defs: map[string]*definition{}}
	p.defs["_HASH"] = &definition{lines: []string{"#"}}
	p.defs["_BANG"] = &definition{lines: []string{"!"}}
	p.readFile(name, Pos{}, 0)
	return p.build(), p.diags
}

// line is one logical line after the line-level rules, before braces split it.
type line struct {
	pos  Pos
	text string
}

type definition struct {
	lines []string // more than one for a definition continued with a trailing \
}

type parser struct {
	opts  Options
	defs  map[string]*definition
	lines []line
	diags []Diagnostic
	files int

	// A definition being continued on the next lines (trailing \).
	continuing *definition
}

func (p *parser) errorf(pos Pos, format string, args ...any) {
	p.diags = append(p.diags, Diagnostic{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// readFile appends the logical lines of one file, following its includes.
func (p *parser) readFile(name string, from Pos, depth int) {
	if depth > maxIncludeDepth {
		p.errorf(from, "include %s: includes nest more than %d deep (a loop?)", name, maxIncludeDepth)
		return
	}
	if p.files >= maxFiles {
		p.errorf(from, "include %s: more than %d files", name, maxFiles)
		return
	}
	p.files++
	data, err := p.opts.Files.ReadFile(name)
	if err != nil {
		if from.File == "" {
			p.errorf(Pos{File: name}, "cannot read: %v", err)
		} else {
			p.errorf(from, "include %s: %v", name, err)
		}
		return
	}
	p.continuing = nil
	for i, raw := range strings.Split(string(data), "\n") {
		pos := Pos{File: name, Line: i + 1}
		raw = strings.TrimRight(raw, "\r")
		if raw == "" {
			p.continuing = nil
			continue
		}
		text, cont := decomment(raw)
		if p.continuing != nil {
			p.continueDefinition(text, cont)
			continue
		}
		if text == "" {
			continue
		}
		p.logical(pos, text, cont, depth, 0)
	}
	p.continuing = nil
}

// continueDefinition adds a line to a definition continued with a trailing \.
func (p *parser) continueDefinition(text string, cont bool) {
	d := p.continuing
	if !cont {
		p.continuing = nil
	}
	if text != "" {
		d.lines = append(d.lines, text)
	}
}

// logical applies conditionals, definitions and includes to one line.
func (p *parser) logical(pos Pos, text string, cont bool, depth, expansions int) {
	for {
		if strings.HasPrefix(text, "@") {
			var keep bool
			text, keep = p.conditional(pos, text)
			if !keep {
				return
			}
		}
		if strings.HasPrefix(text, "$") {
			if name, value, ok := definitionLine(text); ok {
				d := &definition{}
				if cont {
					value = strings.TrimRight(value, " \t")
					p.continuing = d
				}
				if value != "" {
					d.lines = append(d.lines, value)
				}
				p.defs[name] = d
				return
			}
		}
		if strings.HasPrefix(text, "~SEQ") || strings.HasPrefix(text, "~LST") {
			p.errorf(pos, "%s: not supported by the importer; write the lines it generates out in full", text[:4])
			return
		}
		if strings.HasPrefix(text, "~") {
			break
		}
		if !strings.Contains(text, "$") {
			break
		}
		expanded, multi, changed := p.expand(pos, text)
		if !changed {
			break
		}
		if multi != nil {
			// A definition spanning lines stands for those lines.
			for _, l := range multi {
				if expansions >= maxExpansions {
					p.errorf(pos, "definitions expand more than %d times on one line (a loop?)", maxExpansions)
					return
				}
				expansions++
				l, c := decomment(l)
				if l != "" {
					p.logical(pos, l, c, depth, expansions)
				}
			}
			return
		}
		expansions++
		if expansions > maxExpansions {
			p.errorf(pos, "definitions expand more than %d times on one line (a loop?)", maxExpansions)
			return
		}
		text, _ = decomment(expanded)
		if text == "" {
			return
		}
	}
	if cont {
		// A trailing \ means something only on a definition; keepalived
		// keeps it on any other line.
		text += `\`
	}
	if pattern, ok := includeLine(text); ok {
		p.include(pos, pattern, depth)
		return
	}
	p.lines = append(p.lines, line{pos: pos, text: text})
}

// conditional handles a line starting @ID or @^ID: it returns the rest of
// the line and whether it is kept on this node.
func (p *parser) conditional(pos Pos, text string) (string, bool) {
	rev := strings.HasPrefix(text, "@^")
	start := 1
	if rev {
		start = 2
	}
	end := strings.IndexAny(text[start:], " \t")
	if end < 0 {
		return "", false // nothing after the id: keepalived drops the line
	}
	id := text[start : start+end]
	if p.opts.OnConditional != nil {
		p.opts.OnConditional(id, id == p.opts.NodeID && p.opts.NodeID != "", pos)
	}
	if (id == p.opts.NodeID && p.opts.NodeID != "") == rev {
		return "", false
	}
	return strings.TrimLeft(text[start+end:], " \t"), true
}

// definitionLine recognises $NAME=value (blanks allowed before the =).
func definitionLine(text string) (name, value string, ok bool) {
	if len(text) < 2 || !(isAlpha(text[1]) || text[1] == '_') {
		return "", "", false
	}
	i := 2
	for i < len(text) && (isAlnum(text[i]) || text[i] == '_') {
		i++
	}
	name = text[1:i]
	rest := strings.TrimLeft(text[i:], " \t")
	if !strings.HasPrefix(rest, "=") {
		return "", "", false
	}
	return name, strings.TrimLeft(rest[1:], " \t"), true
}

// expand replaces the definitions used in text, left to right, once each
// position. A definition that spans lines, used alone on the line, comes
// back as those lines.
func (p *parser) expand(pos Pos, text string) (string, []string, bool) {
	var b strings.Builder
	changed := false
	for i := 0; i < len(text); {
		if text[i] != '$' || i+1 >= len(text) {
			b.WriteByte(text[i])
			i++
			continue
		}
		name, used, ok := definitionUse(text[i+1:])
		d, defined := p.defs[name]
		if !ok || !defined {
			b.WriteByte('$')
			i++
			continue
		}
		if len(d.lines) > 1 {
			whole := i == 0 && i+1+used == len(text)
			if !whole {
				// keepalived does not expand a multi-line definition in
				// the middle of a line.
				b.WriteByte('$')
				i++
				continue
			}
			return "", append([]string(nil), d.lines...), true
		}
		value := ""
		if len(d.lines) == 1 {
			value = d.lines[0]
		}
		b.WriteString(value)
		changed = true
		i += 1 + used
		if b.Len()+len(text)-i > maxLineLen {
			p.errorf(pos, "the line is longer than %d bytes once definitions are replaced", maxLineLen)
			return "", nil, false
		}
		if strings.HasPrefix(strings.TrimLeft(value, " \t"), "~") {
			b.WriteString(text[i:])
			break
		}
	}
	return b.String(), nil, changed
}

// definitionUse reads NAME or {NAME} after a $, returning the name and
// how many bytes the use takes. As keepalived, a bare $NAME must end at a
// blank, a comma, a ')' or the end of the line.
func definitionUse(s string) (name string, used int, ok bool) {
	braces := strings.HasPrefix(s, "{")
	start := 0
	if braces {
		start = 1
	}
	if start >= len(s) || !(isAlpha(s[start]) || s[start] == '_') {
		return "", 0, false
	}
	end := start + 1
	for end < len(s) && (isAlnum(s[end]) || s[end] == '_') {
		end++
	}
	name = s[start:end]
	if braces {
		if end >= len(s) || s[end] != '}' {
			return "", 0, false
		}
		return name, end + 1, true
	}
	if end < len(s) && !strings.ContainsRune(" \t,)", rune(s[end])) {
		return "", 0, false
	}
	return name, end, true
}

// includeLine recognises `include PATTERN` (and keepalived's includer,
// includem, includew, includeb and includea, which differ only in how
// missing files are reported).
func includeLine(text string) (string, bool) {
	if !strings.HasPrefix(text, "include") || len(text) < 8 {
		return "", false
	}
	rest := text[7:]
	if isBlank(rest[0]) {
		return strings.TrimLeft(rest, " \t"), true
	}
	if strings.ContainsRune("rmwba", rune(rest[0])) && len(rest) > 1 && isBlank(rest[1]) {
		return strings.TrimLeft(rest[1:], " \t"), true
	}
	return "", false
}

// include reads the files matching pattern, which is relative to the
// directory of the including file (keepalived changes into it).
func (p *parser) include(pos Pos, pattern string, depth int) {
	if pattern == "" {
		p.errorf(pos, "include names no file")
		return
	}
	if !path.IsAbs(pattern) {
		pattern = path.Join(path.Dir(pos.File), pattern)
	}
	matches, err := p.opts.Files.Glob(pattern)
	if err != nil {
		p.errorf(pos, "include %s: %v", pattern, err)
		return
	}
	if len(matches) == 0 {
		p.errorf(pos, "include %s: no file matches", pattern)
		return
	}
	sort.Strings(matches)
	saved := p.continuing
	for _, m := range matches {
		p.readFile(m, pos, depth+1)
	}
	p.continuing = saved
}

// decomment removes a comment (# or ! outside double quotes), turns \# and
// \! outside quotes into # and !, trims blanks, and reports a trailing \.
func decomment(s string) (string, bool) {
	s = strings.TrimLeft(s, " \t")
	var b strings.Builder
	quote := false
	cont := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quote = !quote
			b.WriteByte(c)
		case c == '\\':
			if i+1 >= len(s) {
				cont = true
				i = len(s)
				continue
			}
			if !quote && (s[i+1] == '#' || s[i+1] == '!') {
				b.WriteByte(s[i+1])
			} else {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case !quote && (c == '#' || c == '!'):
			i = len(s)
		default:
			b.WriteByte(c)
		}
	}
	return strings.TrimRight(b.String(), " \t"), cont
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isAlpha(c) || c >= '0' && c <= '9' }
func isBlank(c byte) bool { return c == ' ' || c == '\t' }
