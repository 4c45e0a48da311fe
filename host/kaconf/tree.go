package kaconf

import "strings"

// segment is a piece of a logical line once braces are split off it.
type segment struct {
	pos  Pos
	text string
}

// splitBraces cuts a line at its first brace outside double quotes, as
// keepalived's read_line does, so `vrrp_instance VI_1 {` is the keyword
// line and then `{`, and `{ a }` is `{`, `a`, `}`.
func splitBraces(l line) []segment {
	var out []segment
	text := l.text
	for text != "" {
		p := braceAt(text)
		switch {
		case p < 0:
			out = append(out, segment{l.pos, text})
			return out
		case p == 0:
			out = append(out, segment{l.pos, text[:1]})
			text = strings.Trim(text[1:], " \t")
		default:
			out = append(out, segment{l.pos, strings.TrimRight(text[:p], " \t")})
			text = strings.TrimRight(text[p:], " \t")
		}
	}
	return out
}

// braceAt is the index of the first { or } outside double quotes, or -1.
func braceAt(s string) int {
	if s[0] == '{' || s[0] == '}' {
		return 0
	}
	quote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quote = !quote
		case '{', '}':
			if !quote {
				return i
			}
		}
	}
	return -1
}

// SplitWords splits a keyword line as keepalived's alloc_strvec does: on
// blanks, a double-quoted run being one word without its quotes. An
// unmatched quote ends the line (keepalived reports it and stops there).
func SplitWords(s string) (words []string, unmatched bool) {
	i := 0
	for {
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		if i >= len(s) {
			return words, false
		}
		if s[i] == '"' {
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return words, true
			}
			words = append(words, s[i+1:i+1+end])
			i += end + 2
			continue
		}
		start := i
		for i < len(s) && !isBlank(s[i]) && s[i] != '"' {
			i++
		}
		words = append(words, s[start:i])
	}
}

// build turns the logical lines into a tree of statements.
func (p *parser) build() []*Statement {
	type level struct {
		stmts []*Statement
		open  *Statement // the statement whose block this is; nil at the top
	}
	stack := []*level{{}}
	var last *Statement // the previous statement at the current level, for a `{` on its own line
	count := 0
	for _, l := range p.lines {
		for _, seg := range splitBraces(l) {
			cur := stack[len(stack)-1]
			switch seg.text {
			case "{":
				if last == nil || last.HasBlock {
					p.errorf(seg.pos, "unexpected '{': no keyword before it")
					// Read the block anyway, so its '}' does not close ours.
					last = &Statement{Pos: seg.pos}
				}
				last.HasBlock = true
				stack = append(stack, &level{open: last})
				last = nil
			case "}":
				if len(stack) == 1 {
					p.errorf(seg.pos, "extra '}'")
					last = nil
					continue
				}
				stack = stack[:len(stack)-1]
				cur.open.Block = cur.stmts
				last = cur.open
			default:
				count++
				if count > maxStatements {
					p.errorf(seg.pos, "more than %d statements", maxStatements)
					return stack[0].stmts
				}
				words, unmatched := SplitWords(seg.text)
				if unmatched {
					p.errorf(seg.pos, "unmatched quote in %q", seg.text)
				}
				if len(words) == 0 {
					continue
				}
				st := &Statement{Pos: seg.pos, Words: words, Raw: seg.text}
				cur.stmts = append(cur.stmts, st)
				last = st
			}
		}
	}
	for len(stack) > 1 {
		cur := stack[len(stack)-1]
		p.errorf(cur.open.Pos, "'%s' block is not closed: missing '}'", cur.open.Keyword())
		stack = stack[:len(stack)-1]
		cur.open.Block = cur.stmts
	}
	return stack[0].stmts
}
