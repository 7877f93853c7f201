package profiles

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// docPath is the profile reference kept in sync with the decoder.
const docPath = "../docs/profiles.md"

// docTables maps every table the decoder knows to its key list. A list of
// tables is written "name[]". Keys not in this map are leaves. Every
// keys* table of decode.go must appear here; TestDocKeyTables checks
// that each one is reached from keysTop.
var docTables = map[string][]string{
	"":                   keysTop,
	"app":                keysApp,
	"filesystem":         keysFilesystem,
	"filesystem.bind[]":  keysBind,
	"filesystem.tmpfs[]": keysTmpfs,
	"home":               keysHome,
	"env":                keysEnv,
	"network":            keysNetwork,
	"namespaces":         keysNamespaces,
	"seccomp":            keysSeccomp,
	"limits":             keysLimits,
	"sockets":            keysSockets,
	"devices":            keysDevices,
	"dbus":               keysDBus,
}

// docKey is what the test knows about one documented key: a profile that
// sets it (%s is replaced by the value), a valid value, a value of the
// wrong type, the type as the reference spells it, and whether it is
// mandatory or a roadmap key.
type docKey struct {
	snippet   string
	valid     string
	wrong     string
	typ       string
	mandatory bool
	roadmap   bool
}

// Snippets for keys inside a bind or tmpfs entry.
const (
	bindWith  = "[[filesystem.bind]]\nsource = \"~/Music\"\n%s"
	tmpfsWith = "[[filesystem.tmpfs]]\ndest = \"/scratch\"\n%s"
)

// docKeys lists every key path of the reference. TestDocKeyTables checks
// it against the decoder's tables; TestDocKeysParse checks each entry by
// parsing and validating a profile that sets it.
var docKeys = map[string]docKey{
	"version":     {snippet: "version = %s", valid: "1", wrong: `"1"`, typ: "integer", mandatory: true},
	"extends":     {snippet: "extends = %s", valid: `["default"]`, wrong: "1", typ: "string or list of strings"},
	"description": {snippet: "description = %s", valid: `"x"`, wrong: "1", typ: "string"},

	"app.package":  {snippet: "[app]\npackage = %s", valid: `"jq"`, wrong: "1", typ: "string"},
	"app.command":  {snippet: "[app]\ncommand = %s", valid: `"bin/jq"`, wrong: "1", typ: "string"},
	"app.args":     {snippet: "[app]\nargs = %s", valid: `["-r"]`, wrong: `"-r"`, typ: "list of strings"},
	"app.packages": {snippet: "[app]\npackages = %s", valid: `["coreutils"]`, wrong: `"coreutils"`, typ: "list of strings"},

	"filesystem.ro":                {snippet: "[filesystem]\nro = %s", valid: `["/etc/fonts"]`, wrong: `"/etc/fonts"`, typ: "list of strings"},
	"filesystem.rw":                {snippet: "[filesystem]\nrw = %s", valid: `["~/Downloads"]`, wrong: `"~/Downloads"`, typ: "list of strings"},
	"filesystem.bind":              {snippet: "[filesystem]\nbind = %s", valid: `[{source = "~/Music"}]`, wrong: `"~/Music"`, typ: "list of tables"},
	"filesystem.bind[].source":     {snippet: "[[filesystem.bind]]\nsource = %s", valid: `"~/Music"`, wrong: "1", typ: "string", mandatory: true},
	"filesystem.bind[].dest":       {snippet: fmt.Sprintf(bindWith, "dest = %s"), valid: `"/music"`, wrong: "1", typ: "string"},
	"filesystem.bind[].mode":       {snippet: fmt.Sprintf(bindWith, "mode = %s"), valid: `"rw"`, wrong: "true", typ: "string"},
	"filesystem.bind[].create":     {snippet: fmt.Sprintf(bindWith, "create = %s"), valid: "true", wrong: `"true"`, typ: "boolean"},
	"filesystem.bind[].optional":   {snippet: fmt.Sprintf(bindWith, "optional = %s"), valid: "true", wrong: `"true"`, typ: "boolean"},
	"filesystem.bind[].unsafe":     {snippet: fmt.Sprintf(bindWith, "unsafe = %s"), valid: `"reviewed"`, wrong: "true", typ: "string"},
	"filesystem.tmpfs":             {snippet: "[filesystem]\ntmpfs = %s", valid: `[{dest = "/scratch"}]`, wrong: `"/scratch"`, typ: "list of tables"},
	"filesystem.tmpfs[].dest":      {snippet: "[[filesystem.tmpfs]]\ndest = %s", valid: `"/scratch"`, wrong: "1", typ: "string", mandatory: true},
	"filesystem.tmpfs[].size":      {snippet: fmt.Sprintf(tmpfsWith, "size = %s"), valid: `"64M"`, wrong: "64", typ: "string"},
	"filesystem.tmpfs[].nr_inodes": {snippet: fmt.Sprintf(tmpfsWith, "nr_inodes = %s"), valid: "4096", wrong: `"4096"`, typ: "integer"},

	"home.mode":      {snippet: "[home]\nmode = %s", valid: `"persistent"`, wrong: "1", typ: "string"},
	"home.size":      {snippet: "[home]\nsize = %s", valid: `"1G"`, wrong: "1", typ: "string"},
	"home.nr_inodes": {snippet: "[home]\nnr_inodes = %s", valid: "4096", wrong: `"4096"`, typ: "integer"},

	"env.set":  {snippet: "[env]\nset = %s", valid: `{FOO = "bar"}`, wrong: `"FOO=bar"`, typ: "table of strings"},
	"env.pass": {snippet: "[env]\npass = %s", valid: `["LANG"]`, wrong: `"LANG"`, typ: "list of strings"},

	"network.mode":   {snippet: "[network]\nunsafe = \"reviewed\"\nmode = %s", valid: `"host"`, wrong: "true", typ: "string"},
	"network.unsafe": {snippet: "[network]\nmode = \"host\"\nunsafe = %s", valid: `"reviewed"`, wrong: "true", typ: "string"},

	"namespaces.share": {snippet: "[namespaces]\nshare = %s", valid: `["ipc"]`, wrong: `"ipc"`, typ: "list of strings", roadmap: true},

	"seccomp.policy":          {snippet: "[seccomp]\npolicy = %s", valid: `"compat"`, wrong: "1", typ: "string"},
	"seccomp.allow":           {snippet: "[seccomp]\nallow = %s", valid: `["sysfs"]`, wrong: `"sysfs"`, typ: "list of strings"},
	"seccomp.deny":            {snippet: "[seccomp]\ndeny = %s", valid: `["chmod"]`, wrong: `"chmod"`, typ: "list of strings"},
	"seccomp.unsafe":          {snippet: "[seccomp]\nunsafe = %s", valid: `"reviewed"`, wrong: "true", typ: "string"},
	"seccomp.allow_ptrace":    {snippet: "[seccomp]\nallow_ptrace = %s", valid: "false", wrong: `"no"`, typ: "boolean"},
	"seccomp.allow_perf":      {snippet: "[seccomp]\nallow_perf = %s", valid: "false", wrong: `"no"`, typ: "boolean"},
	"seccomp.allow_userns":    {snippet: "[seccomp]\nallow_userns = %s", valid: "false", wrong: `"no"`, typ: "boolean"},
	"seccomp.allow_multiarch": {snippet: "[seccomp]\nallow_multiarch = %s", valid: "false", wrong: `"no"`, typ: "boolean"},
	"seccomp.action":          {snippet: "[seccomp]\naction = %s", valid: `"kill"`, wrong: "1", typ: "string"},

	"limits.memory":      {snippet: "[limits]\nmemory = %s", valid: `"512M"`, wrong: "512", typ: "string"},
	"limits.memory_swap": {snippet: "[limits]\nmemory = \"64M\"\nmemory_swap = %s", valid: `"max"`, wrong: "512", typ: "string"},
	"limits.cpu":         {snippet: "[limits]\ncpu = %s", valid: "1.5", wrong: `"1.5"`, typ: "number"},
	"limits.cpu_weight":  {snippet: "[limits]\ncpu_weight = %s", valid: "100", wrong: "1.5", typ: "integer"},
	"limits.pids":        {snippet: "[limits]\npids = %s", valid: "100", wrong: "1.5", typ: "integer"},
	"limits.io_weight":   {snippet: "[limits]\nio_weight = %s", valid: "100", wrong: "1.5", typ: "integer"},
	"limits.nofile":      {snippet: "[limits]\nnofile = %s", valid: "1024", wrong: "1.5", typ: "integer"},
	"limits.core":        {snippet: "[limits]\ncore = %s", valid: "0", wrong: "1.5", typ: "integer"},

	"sockets.wayland":    {snippet: "[sockets]\nwayland = %s", valid: "false", wrong: `"no"`, typ: "boolean", roadmap: true},
	"sockets.x11":        {snippet: "[sockets]\nx11 = %s", valid: "false", wrong: `"no"`, typ: "boolean", roadmap: true},
	"sockets.pulseaudio": {snippet: "[sockets]\npulseaudio = %s", valid: "false", wrong: `"no"`, typ: "boolean", roadmap: true},
	"sockets.pipewire":   {snippet: "[sockets]\npipewire = %s", valid: "false", wrong: `"no"`, typ: "boolean", roadmap: true},

	"devices.allow": {snippet: "[devices]\nallow = %s", valid: `["/dev/dri"]`, wrong: `"/dev/dri"`, typ: "list of strings", roadmap: true},

	"dbus.talk": {snippet: "[dbus]\ntalk = %s", valid: `["org.freedesktop.Notifications"]`, wrong: `"x"`, typ: "list of strings", roadmap: true},
	"dbus.own":  {snippet: "[dbus]\nown = %s", valid: `["org.example.App.*"]`, wrong: `"x"`, typ: "list of strings", roadmap: true},
	"dbus.see":  {snippet: "[dbus]\nsee = %s", valid: `["org.example.Other"]`, wrong: `"x"`, typ: "list of strings", roadmap: true},
}

// decoderKeys walks docTables from keysTop and returns the documented key
// paths (leaves and lists of tables) and the section tables, and which
// docTables entries it reached.
func decoderKeys() (keys, sections []string, reached map[string]bool) {
	reached = map[string]bool{"": true}
	var walk func(prefix string)
	walk = func(prefix string) {
		for _, k := range docTables[prefix] {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			switch {
			case docTables[p] != nil:
				reached[p] = true
				sections = append(sections, p)
				walk(p)
			case docTables[p+"[]"] != nil:
				reached[p+"[]"] = true
				keys = append(keys, p)
				walk(p + "[]")
			default:
				keys = append(keys, p)
			}
		}
	}
	walk("")
	return keys, sections, reached
}

// TestDocKeyTables checks that docKeys and docTables describe exactly what
// the decoder accepts.
func TestDocKeyTables(t *testing.T) {
	keys, _, reached := decoderKeys()
	for name := range docTables {
		if !reached[name] {
			t.Errorf("docTables[%q] is not reached from keysTop", name)
		}
	}
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k] = true
		if _, ok := docKeys[k]; !ok {
			t.Errorf("decoder key %q is missing from docKeys (add it, and a heading in %s)", k, docPath)
		}
	}
	for k := range docKeys {
		if !seen[k] {
			t.Errorf("docKeys has %q, which the decoder does not accept", k)
		}
	}
}

// snippetProfile returns a profile that sets key to val.
func snippetProfile(key string, k docKey, val string) string {
	body := fmt.Sprintf(k.snippet, val)
	if key == "version" {
		return body + "\n"
	}
	return "version = 1\n" + body + "\n"
}

// normKey turns a recorded position key into a documented key path:
// list indexes of tables become "[]", those of scalars are dropped, and
// env.set.NAME becomes env.set.
func normKey(k string) string {
	k = regexp.MustCompile(`\[\d+\]\.`).ReplaceAllString(k, "[].")
	k = regexp.MustCompile(`\[\d+\]$`).ReplaceAllString(k, "")
	if strings.HasPrefix(k, "env.set.") {
		return "env.set"
	}
	return k
}

// TestDocKeysParse checks each docKeys entry against the parser and the
// validator: the valid value parses and is recorded under the key, the
// wrong type is refused at the key, a roadmap key (and only a roadmap key)
// is refused as not supported yet, and leaving out a mandatory key fails.
func TestDocKeysParse(t *testing.T) {
	for key, k := range docKeys {
		t.Run(key, func(t *testing.T) {
			src := snippetProfile(key, k, k.valid)
			p, err := Parse("doc.toml", []byte(src))
			if err != nil {
				t.Fatalf("Parse(%q) = %v", src, err)
			}
			found := false
			for pk := range p.Pos {
				if normKey(pk) == key {
					found = true
				}
			}
			if !found {
				t.Errorf("Parse(%q): no position recorded for %q", src, key)
			}
			err = p.Validate()
			if got := errors.Is(err, ErrNotSupported); got != k.roadmap {
				t.Errorf("Validate(%q) = %v; roadmap key: %v", src, err, k.roadmap)
			}
			if !k.roadmap && err != nil {
				t.Errorf("Validate(%q) = %v, want nil", src, err)
			}

			bad := snippetProfile(key, k, k.wrong)
			_, err = Parse("doc.toml", []byte(bad))
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Msg, "expected") {
				t.Errorf("Parse(%q) = %v, want a type error", bad, err)
			} else if normKey(e.Key) != key {
				t.Errorf("Parse(%q): error at key %q, want %q", bad, e.Key, key)
			}

			if k.mandatory {
				var without string
				switch key {
				case "version":
					without = "description = \"x\"\n"
				case "filesystem.bind[].source":
					without = "version = 1\n[[filesystem.bind]]\ndest = \"/music\"\n"
				case "filesystem.tmpfs[].dest":
					without = "version = 1\n[[filesystem.tmpfs]]\nsize = \"64M\"\n"
				default:
					t.Fatalf("no test profile without mandatory key %q", key)
				}
				p, err := Parse("doc.toml", []byte(without))
				if err == nil {
					err = p.Validate()
				}
				if err == nil {
					t.Errorf("profile without mandatory %q was accepted: %q", key, without)
				}
			}
		})
	}
}

// docSection is one "### key" section of the reference.
type docSection struct {
	line   int
	fields map[string]string // "Type" -> "integer", ...
}

var reField = regexp.MustCompile(`^- \*\*([A-Za-z]+):\*\*\s*(.*)$`)

// readDoc returns the reference's lines.
func readDoc(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("reading the profile reference: %v", err)
	}
	return strings.Split(string(data), "\n")
}

// docKeySections parses the part between <!-- keys --> and <!-- /keys -->:
// "## [table]" group headings and "### key" sections with "- **Field:**"
// lines (continuation lines are joined).
func docKeySections(t *testing.T, lines []string) (map[string]*docSection, map[string]bool) {
	t.Helper()
	secs := map[string]*docSection{}
	groups := map[string]bool{}
	in := false
	var cur *docSection
	var field string
	for i, l := range lines {
		switch {
		case strings.TrimSpace(l) == "<!-- keys -->":
			in = true
			continue
		case strings.TrimSpace(l) == "<!-- /keys -->":
			in = false
			cur = nil
			continue
		}
		if !in {
			continue
		}
		if strings.HasPrefix(l, "#") {
			cur, field = nil, ""
		}
		switch {
		case strings.HasPrefix(l, "### "):
			name := strings.TrimSpace(strings.TrimPrefix(l, "### "))
			if secs[name] != nil {
				t.Errorf("%s:%d: heading %q repeated", docPath, i+1, name)
			}
			cur = &docSection{line: i + 1, fields: map[string]string{}}
			secs[name] = cur
		case strings.HasPrefix(l, "## ["):
			groups[strings.Trim(strings.TrimSpace(strings.TrimPrefix(l, "## ")), "[]")] = true
		case cur != nil:
			if m := reField.FindStringSubmatch(l); m != nil {
				field = m[1]
				cur.fields[field] = m[2]
			} else if field != "" && strings.HasPrefix(l, "  ") && !strings.HasPrefix(strings.TrimSpace(l), "- ") {
				cur.fields[field] += " " + strings.TrimSpace(l)
			} else if strings.TrimSpace(l) == "" || !strings.HasPrefix(l, "  ") {
				field = ""
			}
		}
	}
	if len(secs) == 0 {
		t.Fatalf("%s: no key sections between <!-- keys --> and <!-- /keys -->", docPath)
	}
	return secs, groups
}

const roadmapStatus = "roadmap: parsed and validated; refused with 'not supported yet' until the issue that implements it lands."

// TestDocHeadings checks that the reference documents every key, and
// only real keys, each in the same shape, with Type, Required and Status
// matching the code.
func TestDocHeadings(t *testing.T) {
	secs, groups := docKeySections(t, readDoc(t))
	keys, sections, _ := decoderKeys()
	for _, s := range sections {
		if !strings.Contains(s, ".") && !groups[s] {
			t.Errorf("%s: no \"## [%s]\" group heading", docPath, s)
		}
	}
	for g := range groups {
		if !contains(sections, g) {
			t.Errorf("%s: group heading [%s] is not a table of the decoder", docPath, g)
		}
	}
	for _, k := range keys {
		if secs[k] == nil {
			t.Errorf("%s: key %q has no \"### %s\" heading", docPath, k, k)
		}
	}
	names := sortedKeys(secs)
	for _, name := range names {
		s := secs[name]
		k, ok := docKeys[name]
		if !ok || !contains(keys, name) {
			t.Errorf("%s:%d: heading %q is not a key the decoder accepts", docPath, s.line, name)
			continue
		}
		for _, f := range []string{"Type", "Default", "Required", "Extends", "Effect", "Security", "Status"} {
			if strings.TrimSpace(s.fields[f]) == "" {
				t.Errorf("%s:%d: %s: missing \"- **%s:**\" line", docPath, s.line, name, f)
			}
		}
		if typ := s.fields["Type"]; typ != k.typ && !strings.HasPrefix(typ, k.typ+" (") {
			t.Errorf("%s:%d: %s: Type %q, want %q", docPath, s.line, name, typ, k.typ)
		}
		req := s.fields["Required"]
		if k.mandatory != strings.HasPrefix(req, "Mandatory") || !k.mandatory && !strings.HasPrefix(req, "Optional") {
			t.Errorf("%s:%d: %s: Required %q, but mandatory is %v", docPath, s.line, name, req, k.mandatory)
		}
		status := s.fields["Status"]
		if k.roadmap && status != roadmapStatus || !k.roadmap && status != "enforced" {
			t.Errorf("%s:%d: %s: Status %q, but roadmap is %v", docPath, s.line, name, status, k.roadmap)
		}
	}
}

// docExample is one fenced toml or json block of the reference.
type docExample struct {
	line      int
	lang      string
	text      string
	expectErr string // from a first line "# expect-error: TEXT"
}

func docExamples(t *testing.T, lines []string) []docExample {
	t.Helper()
	var out []docExample
	var cur *docExample
	for i, l := range lines {
		switch {
		case cur == nil && (l == "```toml" || l == "```json"):
			cur = &docExample{line: i + 2, lang: strings.TrimPrefix(l, "```")}
		case cur != nil && l == "```":
			if rest, ok := strings.CutPrefix(cur.text, "# expect-error:"); ok {
				first, _, _ := strings.Cut(rest, "\n")
				cur.expectErr = strings.TrimSpace(first)
			}
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += l + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: unterminated code block", docPath, cur.line-1)
	}
	return out
}

// TestDocExamples parses and validates every example of the reference,
// and loads it from a file with its parents resolved against the
// built-ins. One example must set every enforced key.
func TestDocExamples(t *testing.T) {
	exs := docExamples(t, readDoc(t))
	if len(exs) < 3 {
		t.Fatalf("%s: %d examples, want at least 3", docPath, len(exs))
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	l := &Loader{UID: os.Getuid()}
	coversAll := false
	for i, ex := range exs {
		name := fmt.Sprintf("example%d.%s", i, ex.lang)
		where := fmt.Sprintf("%s:%d", docPath, ex.line)
		p, err := Parse(name, []byte(ex.text))
		if err == nil {
			err = p.Validate()
		}
		file := filepath.Join(dir, name)
		if werr := os.WriteFile(file, []byte(ex.text), 0o600); werr != nil {
			t.Fatal(werr)
		}
		_, lerr := l.Load(file)
		if ex.expectErr != "" {
			// Parse+Validate of the file alone may pass when the error
			// comes from a parent; Load sees the merged profile.
			if lerr == nil || !strings.Contains(lerr.Error(), ex.expectErr) {
				t.Errorf("%s: Load = %v, want an error containing %q", where, lerr, ex.expectErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Parse+Validate: %v", where, err)
			continue
		}
		if lerr != nil {
			t.Errorf("%s: Load: %v", where, lerr)
		}
		set := map[string]bool{}
		for k := range p.Pos {
			set[normKey(k)] = true
		}
		var missing []string
		for k, dk := range docKeys {
			if !dk.roadmap && !set[k] {
				missing = append(missing, k)
			}
		}
		if len(missing) == 0 {
			coversAll = true
		} else if strings.Contains(ex.text, "# example: every enforced key") {
			sort.Strings(missing)
			t.Errorf("%s: the \"every enforced key\" example does not set %s", where, strings.Join(missing, ", "))
		}
	}
	if !coversAll {
		t.Errorf("%s: no example sets every enforced key", docPath)
	}
}
