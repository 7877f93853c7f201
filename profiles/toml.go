package profiles

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A small TOML 1.0 parser that builds the positioned tree of tree.go.
//
// Why not a library: BurntSushi/toml v1.6.0 records key positions only
// internally (MetaData exposes none), so validation errors after decoding
// could not cite a line; pelletier/go-toml/v2 v2.4.3 exposes positions only
// through its "unstable" AST package, and its duplicate-key, depth and
// list-length handling would have had to be redone on top anyway. Profiles
// need every key's position, refusal (not last-wins) of duplicates, limits
// checked while parsing, and errors that never echo file content; owning
// the ~500 lines below is cheaper than bending either library to that.
//
// Not supported on purpose: dates and times (no profile key takes one).

type tomlParser struct {
	file  string
	src   []byte
	i     int
	li    *lineIndex
	root  *table
	cur   *table
	path  []string // current [header] path, for error keys
	depth int
}

// parseTOML parses src into a tree. src has already passed the encoding
// checks in Parse (valid UTF-8, no NUL, no BOM).
func parseTOML(file string, src []byte) (*table, error) {
	p := &tomlParser{file: file, src: src, li: newLineIndex(src), root: newTable(tRoot)}
	p.cur = p.root
	for {
		if err := p.skipBlank(); err != nil {
			return nil, err
		}
		if p.eof() {
			return p.root, nil
		}
		var err error
		if p.peek() == '[' {
			err = p.header()
		} else {
			err = p.keyval(p.cur, p.path)
		}
		if err != nil {
			return nil, err
		}
		if err := p.endOfLine(); err != nil {
			return nil, err
		}
	}
}

func (p *tomlParser) eof() bool  { return p.i >= len(p.src) }
func (p *tomlParser) peek() byte { return p.src[p.i] }

func (p *tomlParser) errAt(off int, key []string, format string) *Error {
	line, col := p.li.pos(off)
	return &Error{File: p.file, Line: line, Col: col, Key: joinKey(key), Msg: format}
}

// keyDepth counts the table levels in a key path, leaving out list indexes
// (the list levels are counted separately).
func keyDepth(parts []string) int {
	n := 0
	for _, k := range parts {
		if !strings.HasPrefix(k, "[") {
			n++
		}
	}
	return n
}

func joinKey(parts []string) string {
	var b strings.Builder
	for i, k := range parts {
		if i > 0 && !strings.HasPrefix(k, "[") {
			b.WriteByte('.')
		}
		b.WriteString(k)
	}
	return b.String()
}

// skipWS skips spaces and tabs.
func (p *tomlParser) skipWS() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t') {
		p.i++
	}
}

// skipComment skips a comment up to (not including) the newline.
func (p *tomlParser) skipComment() error {
	if p.eof() || p.peek() != '#' {
		return nil
	}
	for !p.eof() && p.peek() != '\n' {
		c := p.peek()
		if c == '\r' && p.i+1 < len(p.src) && p.src[p.i+1] == '\n' {
			break
		}
		if c < 0x20 && c != '\t' || c == 0x7f {
			return p.errAt(p.i, nil, "control character in comment")
		}
		p.i++
	}
	return nil
}

// newline consumes "\n" or "\r\n" and reports whether it did.
func (p *tomlParser) newline() bool {
	if p.eof() {
		return false
	}
	if p.peek() == '\n' {
		p.i++
		return true
	}
	if p.peek() == '\r' && p.i+1 < len(p.src) && p.src[p.i+1] == '\n' {
		p.i += 2
		return true
	}
	return false
}

// skipBlank skips whitespace, comments and newlines.
func (p *tomlParser) skipBlank() error {
	for {
		p.skipWS()
		if err := p.skipComment(); err != nil {
			return err
		}
		if !p.newline() {
			return nil
		}
	}
}

func (p *tomlParser) endOfLine() error {
	p.skipWS()
	if err := p.skipComment(); err != nil {
		return err
	}
	if p.eof() || p.newline() {
		return nil
	}
	return p.errAt(p.i, p.path, "unexpected text after value (expected a newline)")
}

// keyPart is one component of a dotted key.
type keyPart struct {
	name string
	off  int
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func (p *tomlParser) key(ctx []string) ([]keyPart, error) {
	var parts []keyPart
	for {
		p.skipWS()
		start := p.i
		if p.eof() {
			return nil, p.errAt(p.i, ctx, "expected a key")
		}
		var name string
		switch c := p.peek(); {
		case c == '"':
			s, err := p.basicString(ctx)
			if err != nil {
				return nil, err
			}
			name = s
		case c == '\'':
			s, err := p.literalString(ctx)
			if err != nil {
				return nil, err
			}
			name = s
		case isBare(c):
			for !p.eof() && isBare(p.peek()) {
				p.i++
			}
			name = string(p.src[start:p.i])
		default:
			return nil, p.errAt(p.i, ctx, "expected a key")
		}
		parts = append(parts, keyPart{name, start})
		if len(parts)+len(ctx) > MaxDepth {
			return nil, p.errAt(start, ctx, "key nested too deeply (limit "+strconv.Itoa(MaxDepth)+")")
		}
		p.skipWS()
		if p.eof() || p.peek() != '.' {
			return parts, nil
		}
		p.i++
	}
}

func names(ctx []string, parts []keyPart) []string {
	out := append([]string(nil), ctx...)
	for _, k := range parts {
		out = append(out, k.name)
	}
	return out
}

// header parses [a.b] or [[a.b]] and makes it the current table.
func (p *tomlParser) header() error {
	start := p.i
	p.i++
	aot := !p.eof() && p.peek() == '['
	if aot {
		p.i++
	}
	parts, err := p.key(nil)
	if err != nil {
		return err
	}
	if p.eof() || p.peek() != ']' {
		return p.errAt(p.i, names(nil, parts), "expected ']' to close the table header")
	}
	p.i++
	if aot {
		if p.eof() || p.peek() != ']' {
			return p.errAt(p.i, names(nil, parts), "expected ']]' to close the table header")
		}
		p.i++
	}
	line, col := p.li.pos(start)
	t := p.root
	var path []string
	for n, k := range parts {
		path = append(path, k.name)
		last := n == len(parts)-1
		f := t.get(k.name)
		kline, kcol := p.li.pos(k.off)
		if f == nil {
			nt := newTable(tImplicit)
			v := &value{kind: kTable, line: line, col: col, tbl: nt}
			if last && aot {
				nt.kind = tHeader
				v = &value{kind: kArray, aot: true, line: line, col: col, arr: []*value{v}}
			} else if last {
				nt.kind = tHeader
			}
			t.add(&field{key: k.name, line: kline, col: kcol, val: v})
			t = nt
			if last && aot {
				path = append(path, "[0]")
			}
			continue
		}
		v := f.val
		switch {
		case v.kind == kArray && v.aot:
			if last && !aot {
				return p.errAt(k.off, path, "table already defined as a list of tables [[…]]")
			}
			if last {
				nt := newTable(tHeader)
				if len(v.arr) >= MaxListLen {
					return p.errAt(start, path, "list has more than "+strconv.Itoa(MaxListLen)+" entries")
				}
				v.arr = append(v.arr, &value{kind: kTable, line: line, col: col, tbl: nt})
				t = nt
			} else {
				t = v.arr[len(v.arr)-1].tbl
			}
			path = append(path, "["+strconv.Itoa(len(v.arr)-1)+"]")
		case v.kind == kTable:
			switch {
			case v.tbl.kind == tInline:
				return p.errAt(k.off, path, "cannot extend an inline table")
			case v.tbl.kind == tDotted:
				return p.errAt(k.off, path, "table already defined by a dotted key")
			case last && aot:
				return p.errAt(k.off, path, "key already defined as a table")
			case last && v.tbl.kind == tHeader:
				return p.errAt(k.off, path, "duplicate table (each table may appear only once)")
			case last:
				v.tbl.kind = tHeader
				v.line, v.col = line, col
			}
			t = v.tbl
		default:
			return p.errAt(k.off, path, "key already has a value")
		}
	}
	p.cur = t
	p.path = path
	return nil
}

// keyval parses key = value into t.
func (p *tomlParser) keyval(t *table, ctx []string) error {
	parts, err := p.key(ctx)
	if err != nil {
		return err
	}
	full := names(ctx, parts)
	p.skipWS()
	if p.eof() || p.peek() != '=' {
		return p.errAt(p.i, full, "expected '=' after the key")
	}
	p.i++
	p.skipWS()
	for n, k := range parts[:len(parts)-1] {
		f := t.get(k.name)
		if f == nil {
			nt := newTable(tDotted)
			line, col := p.li.pos(k.off)
			t.add(&field{key: k.name, line: line, col: col, val: &value{kind: kTable, line: line, col: col, tbl: nt}})
			t = nt
			continue
		}
		if f.val.kind != kTable || f.val.tbl.kind != tDotted {
			return p.errAt(k.off, names(ctx, parts[:n+1]), "key already defined")
		}
		t = f.val.tbl
	}
	last := parts[len(parts)-1]
	if t.get(last.name) != nil {
		return p.errAt(last.off, full, "duplicate key (each key may appear only once)")
	}
	v, err := p.value(full)
	if err != nil {
		return err
	}
	line, col := p.li.pos(last.off)
	t.add(&field{key: last.name, line: line, col: col, val: v})
	return nil
}

func (p *tomlParser) value(key []string) (*value, error) {
	if p.eof() {
		return nil, p.errAt(p.i, key, "expected a value")
	}
	start := p.i
	line, col := p.li.pos(start)
	v := &value{line: line, col: col}
	switch c := p.peek(); {
	case c == '"':
		s, err := p.basicString(key)
		v.kind, v.s = kString, s
		return v, err
	case c == '\'':
		s, err := p.literalString(key)
		v.kind, v.s = kString, s
		return v, err
	case c == '[':
		return p.array(key, v)
	case c == '{':
		return p.inlineTable(key, v)
	case c == 't' || c == 'f':
		tok := p.token()
		switch tok {
		case "true":
			v.kind, v.b = kBool, true
			return v, nil
		case "false":
			v.kind = kBool
			return v, nil
		}
		return nil, p.errAt(start, key, "invalid value (strings must be quoted)")
	case c == '+' || c == '-' || c >= '0' && c <= '9' || c == 'i' || c == 'n':
		return p.number(key, v, start)
	}
	return nil, p.errAt(start, key, "invalid value (strings must be quoted)")
}

// token reads a run of characters that may form a number or keyword.
func (p *tomlParser) token() string {
	start := p.i
	for !p.eof() {
		c := p.peek()
		if isBare(c) || c == '+' || c == '.' || c == ':' {
			p.i++
			continue
		}
		break
	}
	return string(p.src[start:p.i])
}

var (
	reInt   = lazyRegexp(`^[+-]?(0|[1-9](_?[0-9])*)$`)
	reFloat = lazyRegexp(`^[+-]?(0|[1-9](_?[0-9])*)(\.[0-9](_?[0-9])*)?([eE][+-]?[0-9](_?[0-9])*)?$`)
	reHex   = lazyRegexp(`^0x[0-9A-Fa-f](_?[0-9A-Fa-f])*$`)
	reOct   = lazyRegexp(`^0o[0-7](_?[0-7])*$`)
	reBin   = lazyRegexp(`^0b[01](_?[01])*$`)
	reDate  = lazyRegexp(`^[0-9]{4}-|^[0-9]{2}:`)
)

func (p *tomlParser) number(key []string, v *value, start int) (*value, error) {
	tok := p.token()
	// A date-time may contain a space before its time part; the token stops
	// there, and the date check below catches it either way.
	bad := func(msg string) (*value, error) { return nil, p.errAt(start, key, msg) }
	clean := strings.ReplaceAll(tok, "_", "")
	switch {
	case tok == "inf" || tok == "+inf":
		v.kind, v.f = kFloat, math.Inf(1)
	case tok == "-inf":
		v.kind, v.f = kFloat, math.Inf(-1)
	case tok == "nan" || tok == "+nan" || tok == "-nan":
		v.kind, v.f = kFloat, math.NaN()
	case reInt().MatchString(tok):
		n, err := strconv.ParseInt(clean, 10, 64)
		if err != nil {
			return bad("integer out of range")
		}
		v.kind, v.i = kInt, n
	case reHex().MatchString(tok), reOct().MatchString(tok), reBin().MatchString(tok):
		base := map[byte]int{'x': 16, 'o': 8, 'b': 2}[tok[1]]
		n, err := strconv.ParseInt(clean[2:], base, 64)
		if err != nil {
			return bad("integer out of range")
		}
		v.kind, v.i = kInt, n
	case reFloat().MatchString(tok):
		f, err := strconv.ParseFloat(clean, 64)
		if err != nil {
			return bad("float out of range")
		}
		v.kind, v.f = kFloat, f
	case reDate().MatchString(tok):
		return bad("dates and times are not supported")
	default:
		return bad("invalid number")
	}
	return v, nil
}

func (p *tomlParser) enter(key []string, off int) error {
	p.depth++
	if p.depth+keyDepth(key) > MaxDepth {
		return p.errAt(off, key, "value nested too deeply (limit "+strconv.Itoa(MaxDepth)+")")
	}
	return nil
}

// skipArrayBlank skips whitespace, newlines and comments inside a list.
func (p *tomlParser) skipArrayBlank() error {
	for {
		p.skipWS()
		if err := p.skipComment(); err != nil {
			return err
		}
		if !p.newline() {
			if !p.eof() && p.peek() == '\r' {
				return p.errAt(p.i, nil, "bare carriage return")
			}
			return nil
		}
	}
}

func (p *tomlParser) array(key []string, v *value) (*value, error) {
	start := p.i
	if err := p.enter(key, start); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.i++
	v.kind = kArray
	for {
		if err := p.skipArrayBlank(); err != nil {
			return nil, err
		}
		if p.eof() {
			return nil, p.errAt(start, key, "unterminated list")
		}
		if p.peek() == ']' {
			p.i++
			return v, nil
		}
		if len(v.arr) >= MaxListLen {
			return nil, p.errAt(start, key, "list has more than "+strconv.Itoa(MaxListLen)+" entries")
		}
		ekey := append(append([]string(nil), key...), "["+strconv.Itoa(len(v.arr))+"]")
		e, err := p.value(ekey)
		if err != nil {
			return nil, err
		}
		v.arr = append(v.arr, e)
		if err := p.skipArrayBlank(); err != nil {
			return nil, err
		}
		if p.eof() {
			return nil, p.errAt(start, key, "unterminated list")
		}
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			return v, nil
		default:
			return nil, p.errAt(p.i, key, "expected ',' or ']' in list")
		}
	}
}

func (p *tomlParser) inlineTable(key []string, v *value) (*value, error) {
	start := p.i
	if err := p.enter(key, start); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.i++
	t := newTable(tInline)
	v.kind, v.tbl = kTable, t
	p.skipWS()
	if !p.eof() && p.peek() == '}' {
		p.i++
		return v, nil
	}
	for {
		if err := p.keyval(t, key); err != nil {
			return nil, err
		}
		p.skipWS()
		if p.eof() || p.peek() == '\n' || p.peek() == '\r' {
			return nil, p.errAt(p.i, key, "unterminated inline table (inline tables must be on one line)")
		}
		switch p.peek() {
		case ',':
			p.i++
			p.skipWS()
		case '}':
			p.i++
			return v, nil
		default:
			return nil, p.errAt(p.i, key, "expected ',' or '}' in inline table")
		}
	}
}

// basicString parses "..." or """...""" (escapes processed).
func (p *tomlParser) basicString(key []string) (string, error) {
	return p.quotedString(key, '"')
}

// literalString parses a single-quoted literal string, one-line or
// triple-quoted multi-line (no escapes).
func (p *tomlParser) literalString(key []string) (string, error) {
	return p.quotedString(key, '\'')
}

// quotedString parses a string opened by quote, one-line or triple-quoted
// multi-line; only basic strings (") process escapes.
func (p *tomlParser) quotedString(key []string, quote byte) (string, error) {
	start := p.i
	q := string(quote)
	multi := strings.HasPrefix(string(p.src[p.i:min(p.i+3, len(p.src))]), q+q+q)
	if multi {
		p.i += 3
		p.newline() // a newline right after the opening quotes is trimmed
	} else {
		p.i++
	}
	ctrlMsg := "control character in string"
	if quote == '"' {
		ctrlMsg += " (use an escape)"
	}
	var b strings.Builder
	for {
		if p.eof() {
			return "", p.errAt(start, key, "unterminated string")
		}
		c := p.peek()
		switch {
		case c == quote:
			if !multi {
				p.i++
				return b.String(), nil
			}
			n := 0
			for p.i+n < len(p.src) && p.src[p.i+n] == quote {
				n++
			}
			if n >= 3 {
				if n > 5 {
					return "", p.errAt(p.i, key, "too many quotes closing a string")
				}
				b.WriteString(strings.Repeat(q, n-3))
				p.i += n
				return b.String(), nil
			}
			b.WriteString(strings.Repeat(q, n))
			p.i += n
		case c == '\\' && quote == '"':
			if err := p.escapeSeq(&b, key, multi); err != nil {
				return "", err
			}
		case c == '\n' || c == '\r':
			if !multi {
				return "", p.errAt(start, key, "unterminated string (newline in a one-line string)")
			}
			if !p.newline() {
				return "", p.errAt(p.i, key, "bare carriage return in string")
			}
			b.WriteByte('\n')
		case c < 0x20 && c != '\t' || c == 0x7f:
			return "", p.errAt(p.i, key, ctrlMsg)
		default:
			_, n := utf8.DecodeRune(p.src[p.i:])
			b.Write(p.src[p.i : p.i+n])
			p.i += n
		}
	}
}

func (p *tomlParser) escapeSeq(b *strings.Builder, key []string, multi bool) error {
	start := p.i
	p.i++
	if p.eof() {
		return p.errAt(start, key, "unterminated string")
	}
	c := p.peek()
	p.i++
	switch c {
	case 'b':
		b.WriteByte('\b')
	case 't':
		b.WriteByte('\t')
	case 'n':
		b.WriteByte('\n')
	case 'f':
		b.WriteByte('\f')
	case 'r':
		b.WriteByte('\r')
	case 'e':
		b.WriteByte(0x1b)
	case '"':
		b.WriteByte('"')
	case '\\':
		b.WriteByte('\\')
	case 'u', 'U':
		n := 4
		if c == 'U' {
			n = 8
		}
		if p.i+n > len(p.src) {
			return p.errAt(start, key, "invalid unicode escape")
		}
		r, err := strconv.ParseUint(string(p.src[p.i:p.i+n]), 16, 32)
		if err != nil || r > utf8.MaxRune || r >= 0xd800 && r <= 0xdfff {
			return p.errAt(start, key, "invalid unicode escape")
		}
		p.i += n
		b.WriteRune(rune(r))
	case ' ', '\t', '\n', '\r':
		if !multi {
			return p.errAt(start, key, "invalid escape sequence")
		}
		// Line-ending backslash: trim all whitespace and newlines after it.
		p.i--
		p.skipWS()
		if !p.newline() {
			return p.errAt(start, key, "invalid escape sequence")
		}
		for {
			p.skipWS()
			if !p.newline() {
				break
			}
		}
	default:
		return p.errAt(start, key, "invalid escape sequence")
	}
	return nil
}
