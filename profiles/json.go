package profiles

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
)

// parseJSON parses a JSON profile into the same positioned tree as TOML, so
// that both formats get the same schema checks. Duplicate keys, null,
// trailing data and over-deep nesting are refused.
func parseJSON(file string, src []byte) (*table, error) {
	j := &jsonParser{file: file, src: src, li: newLineIndex(src), dec: json.NewDecoder(bytes.NewReader(src))}
	j.dec.UseNumber()
	v, err := j.value(nil)
	if err != nil {
		return nil, err
	}
	if v.kind != kTable {
		return nil, j.errAt(0, nil, "a JSON profile must be an object")
	}
	if _, err := j.dec.Token(); err != io.EOF {
		return nil, j.errAt(j.start(), nil, "unexpected data after the profile object")
	}
	v.tbl.kind = tRoot
	return v.tbl, nil
}

type jsonParser struct {
	file  string
	src   []byte
	li    *lineIndex
	dec   *json.Decoder
	depth int
}

func (j *jsonParser) errAt(off int, key []string, msg string) *Error {
	line, col := j.li.pos(off)
	return &Error{File: j.file, Line: line, Col: col, Key: joinKey(key), Msg: msg}
}

// start returns the offset where the next token begins.
func (j *jsonParser) start() int {
	off := int(j.dec.InputOffset())
	for off < len(j.src) && strings.IndexByte(" \t\r\n:,", j.src[off]) >= 0 {
		off++
	}
	return off
}

func (j *jsonParser) token(key []string) (json.Token, int, error) {
	off := j.start()
	tok, err := j.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = int(se.Offset)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, off, j.errAt(off, key, "unexpected end of file")
		}
		// The decoder's message may quote file content; use a fixed one.
		return nil, off, j.errAt(off, key, "invalid JSON syntax")
	}
	return tok, off, nil
}

func (j *jsonParser) value(key []string) (*value, error) {
	tok, off, err := j.token(key)
	if err != nil {
		return nil, err
	}
	line, col := j.li.pos(off)
	v := &value{line: line, col: col}
	switch t := tok.(type) {
	case string:
		v.kind, v.s = kString, t
	case bool:
		v.kind, v.b = kBool, t
	case json.Number:
		s := string(t)
		if strings.ContainsAny(s, ".eE") {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, j.errAt(off, key, "float out of range")
			}
			v.kind, v.f = kFloat, f
		} else {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, j.errAt(off, key, "integer out of range")
			}
			v.kind, v.i = kInt, n
		}
	case nil:
		return nil, j.errAt(off, key, "null is not allowed (leave the key out instead)")
	case json.Delim:
		j.depth++
		defer func() { j.depth-- }()
		if j.depth+keyDepth(key) > MaxDepth {
			return nil, j.errAt(off, key, "value nested too deeply (limit "+strconv.Itoa(MaxDepth)+")")
		}
		if t == '[' {
			return j.array(key, v, off)
		}
		return j.object(key, v)
	}
	return v, nil
}

func (j *jsonParser) array(key []string, v *value, off int) (*value, error) {
	v.kind = kArray
	for j.dec.More() {
		if len(v.arr) >= MaxListLen {
			return nil, j.errAt(off, key, "list has more than "+strconv.Itoa(MaxListLen)+" entries")
		}
		e, err := j.value(append(append([]string(nil), key...), "["+strconv.Itoa(len(v.arr))+"]"))
		if err != nil {
			return nil, err
		}
		v.arr = append(v.arr, e)
	}
	_, _, err := j.token(key)
	return v, err
}

func (j *jsonParser) object(key []string, v *value) (*value, error) {
	t := newTable(tInline)
	v.kind, v.tbl = kTable, t
	for j.dec.More() {
		tok, off, err := j.token(key)
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		k := append(append([]string(nil), key...), name)
		if t.get(name) != nil {
			return nil, j.errAt(off, k, "duplicate key (each key may appear only once)")
		}
		e, err := j.value(k)
		if err != nil {
			return nil, err
		}
		line, col := j.li.pos(off)
		t.add(&field{key: name, line: line, col: col, val: e})
	}
	_, _, err := j.token(key)
	return v, err
}
