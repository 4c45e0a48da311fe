package kaconf

import (
	"errors"
	"strings"
)

// SplitQuotedEscaped splits s as keepalived's alloc_strvec_quoted_escaped
// does for script lines: words end at blanks outside quotes; "…" and '…'
// quote (the quotes go); a backslash escapes the next character, with C's
// escapes (\n, \t, \xHH, \0NN, \cX …) understood.
func SplitQuotedEscaped(s string) ([]string, error) {
	var words []string
	i := 0
	for {
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		if i >= len(s) {
			return words, nil
		}
		var b strings.Builder
		var quote byte
	word:
		for i < len(s) {
			c := s[i]
			switch {
			case c == '\\':
				i++
				if i >= len(s) {
					return nil, errors.New("a backslash ends the line")
				}
				var r byte
				r, i = unescape(s, i)
				b.WriteByte(r)
			case quote != 0 && c == quote:
				quote = 0
				i++
			case quote != 0:
				b.WriteByte(c)
				i++
			case c == '"' || c == '\'':
				quote = c
				i++
			case isBlank(c):
				break word
			default:
				b.WriteByte(c)
				i++
			}
		}
		if quote != 0 {
			return nil, errors.New("missing terminating " + string(quote))
		}
		words = append(words, b.String())
	}
}

// unescape reads the escape starting at s[i] (after the backslash) and
// returns its byte and the index after it.
func unescape(s string, i int) (byte, int) {
	c := s[i]
	switch {
	case c == 'x' && i+1 < len(s) && isHex(s[i+1]):
		var v byte
		i++
		for i < len(s) && isHex(s[i]) {
			v = v<<4 | hexVal(s[i])
			i++
		}
		return v, i
	case c == 'c' && i+1 < len(s):
		return s[i+1] & 0x1f, i + 2
	case c >= '0' && c <= '7':
		v := c - '0'
		i++
		for n := 0; n < 2 && i < len(s) && s[i] >= '0' && s[i] <= '7'; n++ {
			v = v<<3 + (s[i] - '0')
			i++
		}
		return v, i
	}
	switch c {
	case 'a':
		c = '\a'
	case 'b':
		c = '\b'
	case 'E':
		c = 0x1b
	case 'f':
		c = '\f'
	case 'n':
		c = '\n'
	case 'r':
		c = '\r'
	case 't':
		c = '\t'
	case 'v':
		c = '\v'
	}
	return c, i + 1
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// Script is a script keyword's line split as keepalived splits it
// (set_script_params_array): the line is split with quotes and escapes,
// its second word is the script, split again into the program and its
// arguments; the words after it (a user and group) come back as rest.
func (s *Statement) Script() (argv []string, rest []string, err error) {
	words, err := SplitQuotedEscaped(s.Raw)
	if err != nil {
		return nil, nil, err
	}
	if len(words) < 2 {
		return nil, nil, errors.New("no script given")
	}
	argv, err = SplitQuotedEscaped(words[1])
	if err != nil {
		return nil, nil, err
	}
	if len(argv) == 0 {
		return nil, nil, errors.New("the script is empty")
	}
	return argv, words[2:], nil
}
