package sbom

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
)

// The JSON form of SPDX 2.x is read token by token (encoding/json's
// Decoder.Token), never as a whole: a guard under the decoder bounds every
// string, number and run of white space by MaxLine and counts lines,
// so that errors name the line and memory stays bounded.

// jsonGuard passes bytes through to the JSON decoder, bounding the length
// of every token and remembering where lines start.
type jsonGuard struct {
	r         io.Reader
	off       int64   // bytes passed through
	firstLine int     // line of the first byte
	newlines  []int64 // offsets of newlines at or after pruned
	pruned    int     // newlines dropped from newlines
	inString  bool
	escape    bool
	runKind   byte // 's' string, 'w' white space, 'b' bare token
	run       int
}

func (g *jsonGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	for i := 0; i < n; i++ {
		c := p[i]
		if c == '\n' {
			g.newlines = append(g.newlines, g.off+int64(i))
		}
		g.step(c)
		if g.run > MaxLine {
			what := map[byte]string{'s': "a string", 'w': "white space", 'b': "a value"}[g.runKind]
			at := g.off + int64(i)
			g.off += int64(i)
			return i, lineErrorf(g.lineAt(at), "%s longer than %d bytes", what, MaxLine)
		}
	}
	g.off += int64(n)
	return n, err
}

// step follows one byte: the run of string, white space or bare value it
// extends, or the structural character that ends a run.
func (g *jsonGuard) step(c byte) {
	switch {
	case g.inString:
		g.stringByte(c)
	case c == '"':
		g.inString, g.runKind, g.run = true, 's', 0
	case c == '{' || c == '}' || c == '[' || c == ']' || c == ',' || c == ':':
		g.run = 0
	case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		g.extend('w')
	default:
		g.extend('b')
	}
}

func (g *jsonGuard) stringByte(c byte) {
	switch {
	case g.escape:
		g.escape = false
	case c == '\\':
		g.escape = true
	case c == '"':
		g.inString, g.run = false, 0
		return
	}
	g.run++
}

func (g *jsonGuard) extend(kind byte) {
	if g.runKind != kind {
		g.runKind, g.run = kind, 0
	}
	g.run++
}

// lineAt returns the line of byte offset off (not before the last prune).
func (g *jsonGuard) lineAt(off int64) int {
	k := sort.Search(len(g.newlines), func(i int) bool { return g.newlines[i] >= off })
	return g.firstLine + g.pruned + k
}

// prune forgets the newlines before off: the decoder has consumed them.
func (g *jsonGuard) prune(off int64) {
	k := sort.Search(len(g.newlines), func(i int) bool { return g.newlines[i] >= off })
	if k > 0 {
		g.pruned += k
		g.newlines = append(g.newlines[:0], g.newlines[k:]...)
	}
}

type jsonParser struct {
	dec     *json.Decoder
	g       *jsonGuard
	b       *sbomBuilder
	depth   int
	tokLine int  // line of the token read last
	context bool // an "@context" key: JSON-LD, i.e. SPDX 3
}

func parseSPDXJSON(r io.Reader, firstLine int) (*Document, error) {
	g := &jsonGuard{r: r, firstLine: firstLine}
	dec := json.NewDecoder(g)
	dec.UseNumber()
	p := &jsonParser{dec: dec, g: g, b: &sbomBuilder{s: &Document{Format: FormatSPDXJSON}}, tokLine: firstLine}
	if err := p.document(); err != nil {
		return nil, p.wrap(err)
	}
	return p.b.s, nil
}

// wrap turns decoder errors into *LineError naming the line.
func (p *jsonParser) wrap(err error) error {
	var se *LineError
	if errors.As(err, &se) {
		return err
	}
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return lineErrorf(p.g.lineAt(max(syn.Offset-1, 0)), "invalid JSON: %v", syn)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return lineErrorf(p.g.lineAt(p.g.off), "input ends inside the JSON document: the document is truncated")
	}
	return fmt.Errorf("read sbom near line %d: %w", p.g.lineAt(p.g.off), err)
}

// token reads the next token and records its line. The decoder's offset
// after a token is the token's end; its last byte is on the token's line
// (JSON strings cannot span lines).
func (p *jsonParser) token() (json.Token, error) {
	p.g.prune(p.dec.InputOffset())
	t, err := p.dec.Token()
	if err == nil {
		p.tokLine = p.g.lineAt(max(p.dec.InputOffset()-1, 0))
	}
	return t, err
}

func (p *jsonParser) delim(want json.Delim) error {
	t, err := p.token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return lineErrorf(p.tokLine, "want %q, got %s", want, describe(t))
	}
	return nil
}

func describe(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", v)
	case string:
		return fmt.Sprintf("string %q", shorten(v))
	case nil:
		return "null"
	default:
		return fmt.Sprintf("%v", v)
	}
}

func (p *jsonParser) key() (string, error) {
	t, err := p.token()
	if err != nil {
		return "", err
	}
	k, ok := t.(string)
	if !ok {
		return "", lineErrorf(p.tokLine, "want an object key, got %s", describe(t))
	}
	return k, nil
}

func (p *jsonParser) str(field string) (string, error) {
	t, err := p.token()
	if err != nil {
		return "", err
	}
	s, ok := t.(string)
	if !ok {
		return "", lineErrorf(p.tokLine, "%s: want a string, got %s", field, describe(t))
	}
	return s, nil
}

// skip skips one value of any shape.
func (p *jsonParser) skip() error {
	t, err := p.token()
	if err != nil {
		return err
	}
	d, ok := t.(json.Delim)
	if !ok {
		return nil
	}
	if d != '{' && d != '[' {
		return lineErrorf(p.tokLine, "unexpected %q", d)
	}
	return p.nested(func() error {
		for p.dec.More() {
			if d == '{' {
				if _, err := p.key(); err != nil {
					return err
				}
			}
			if err := p.skip(); err != nil {
				return err
			}
		}
		_, err := p.token() // the closing delimiter; the decoder checks it matches
		return err
	})
}

func (p *jsonParser) nested(f func() error) error {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxJSONDepth {
		return lineErrorf(p.tokLine, "JSON nested deeper than %d levels", maxJSONDepth)
	}
	return f()
}

// object reads an object, calling field for each key, and returns the line
// the object starts on.
func (p *jsonParser) object(field func(key string) error) (int, error) {
	if err := p.delim('{'); err != nil {
		return p.tokLine, err
	}
	line := p.tokLine
	return line, p.nested(func() error {
		for p.dec.More() {
			k, err := p.key()
			if err != nil {
				return err
			}
			if err := field(k); err != nil {
				return err
			}
		}
		return p.delim('}')
	})
}

// array reads an array, calling elem for each element.
func (p *jsonParser) array(elem func() error) error {
	if err := p.delim('['); err != nil {
		return err
	}
	return p.nested(func() error {
		for p.dec.More() {
			if err := elem(); err != nil {
				return err
			}
		}
		return p.delim(']')
	})
}

func (p *jsonParser) document() error {
	var version string
	versionLine := 0
	_, err := p.object(func(k string) error {
		switch k {
		case "spdxVersion":
			v, err := p.str(k)
			version, versionLine = v, p.tokLine
			return err
		case "@context":
			p.context = true
			return p.skip()
		case "name":
			v, err := p.str(k)
			p.b.s.Name = v
			return err
		case "packages":
			return p.array(func() error { return p.element(false) })
		case "files":
			return p.array(func() error { return p.element(true) })
		}
		return p.skip()
	})
	if err != nil {
		return err
	}
	if t, err := p.token(); err != io.EOF {
		if err != nil {
			return err
		}
		return lineErrorf(p.tokLine, "unexpected %s after the JSON document", describe(t))
	}
	switch {
	case version != "":
		return p.b.checkSPDXVersion(versionLine, version)
	case p.context:
		return lineErrorf(p.g.firstLine, "not an SPDX 2.x document: JSON-LD (SPDX 3) is not supported")
	}
	return lineErrorf(p.g.firstLine, "not an SPDX JSON document: no spdxVersion")
}

// element reads a package or a file.
func (p *jsonParser) element(isFile bool) error {
	e := &element{isFile: isFile}
	nameKey := "name"
	if isFile {
		nameKey = "fileName"
	}
	line, err := p.object(func(k string) error {
		switch k {
		case nameKey:
			v, err := p.str(k)
			e.name = v
			return err
		case "SPDXID":
			v, err := p.str(k)
			e.spdxID = v
			return err
		case "checksums":
			return p.array(func() error {
				var alg, value string
				line, err := p.object(func(k string) error {
					var err error
					switch k {
					case "algorithm":
						alg, err = p.str(k)
					case "checksumValue":
						value, err = p.str(k)
					default:
						err = p.skip()
					}
					return err
				})
				if err != nil {
					return err
				}
				return e.addChecksum(line, alg, value)
			})
		case "externalRefs":
			if isFile {
				return p.skip()
			}
			return p.array(func() error {
				var typ, locator string
				_, err := p.object(func(k string) error {
					var err error
					switch k {
					case "referenceType":
						typ, err = p.str(k)
					case "referenceLocator":
						locator, err = p.str(k)
					default:
						err = p.skip()
					}
					return err
				})
				if typ == "purl" {
					e.purl = locator
				}
				return err
			})
		}
		return p.skip()
	})
	if err != nil {
		return err
	}
	e.line = line
	return p.b.finish(e)
}
