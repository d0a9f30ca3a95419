package testworld

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-openapi/runtime"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/transparency-dev/merkle/rfc6962"
)

// RekorServer serves the Rekor v1 API endpoints that cosign and k8sverify
// use, from a RekorLog.
type RekorServer struct {
	Log *RekorLog

	mu     sync.Mutex
	forged map[string]bool // entry UUIDs whose SET is served forged
	hidden map[string]bool // entry UUIDs the server pretends not to have
	forger signature.Signer

	// leaves memoizes leafOf for hashedrekord proposals (proposalKey to
	// leaf hash, hex): what a proposal canonicalizes to depends on nothing
	// else, and computing it checks its signature twice. known maps the
	// JSON of a proposed entry as Rekor's own client encodes it (as
	// cosign's and k8sverify's do) to its leaf, for the logged entries
	// (Warm): knownQuery answers those without decoding them again. With
	// both nil, every answer is computed.
	leavesMu sync.RWMutex
	leaves   map[string]string
	known    map[string]string
	// answers holds the JSON of the answer for an entry of an inactive
	// shard, {uuid: entry} (entryJSON), rendered by Warm: such an
	// answer does not change (the shard takes no more entries, its
	// checkpoint is signed once) unless its SET is forged, which is
	// signed anew for each answer. nil: every answer is rendered.
	answersMu sync.RWMutex
	answers   map[*LogEntry][]byte
}

// NewRekorServer serves log.
func NewRekorServer(log *RekorLog) *RekorServer {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	forger, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		panic(err)
	}
	return &RekorServer{Log: log, forged: map[string]bool{}, hidden: map[string]bool{}, forger: forger,
		leaves: map[string]string{}, known: map[string]string{}, answers: map[*LogEntry][]byte{}}
}

// Warm computes, for every hashedrekord entry the log holds now, what
// that entry canonicalizes to when proposed again, as a client does to
// find it (POST /api/v1/log/entries/retrieve): the answers are then ready
// before the first client asks, and the same as computed (leafOf). An
// entry that does not parse or canonicalize again is left to be answered
// when asked, as it would have been. It also renders the answers that do
// not change (warmAnswers). It runs on every core: for v1.24.17's 240
// entries it costs about 120 ms of CPU, where serving an audit cost 73
// ms more without it.
func (s *RekorServer) Warm() {
	s.warmAnswers()
	bodies := make(chan []byte)
	var wg sync.WaitGroup
	for range goruntime.GOMAXPROCS(0) {
		wg.Go(func() {
			for body := range bodies {
				s.warmProposal(body)
			}
		})
	}
	for _, body := range s.Log.bodies() {
		bodies <- body
	}
	close(bodies)
	wg.Wait()
}

// warmProposal readies the answers for a logged entry proposed again.
func (s *RekorServer) warmProposal(body []byte) {
	pe, err := models.UnmarshalProposedEntry(bytes.NewReader(body), runtime.JSONConsumer())
	if _, ok := pe.(*models.Hashedrekord); err != nil || !ok {
		return
	}
	if _, err := s.leafOf(pe); err != nil {
		return
	}
	// The proposal as a client encodes it (its key, for a spec built as a
	// struct and one decoded alike), decoded again as a query's entry is:
	// what it decodes to is what the query means.
	el, _ := proposalKey(pe)
	again, err := models.UnmarshalProposedEntry(strings.NewReader(el), runtime.JSONConsumer())
	if err != nil {
		return
	}
	if leaf, err := s.leafOf(again); err == nil {
		s.leavesMu.Lock()
		if s.known != nil {
			s.known[el] = leaf
		}
		s.leavesMu.Unlock()
	}
}

// warmAnswers renders the answer for each entry of an inactive shard
// whose SET is not forged (answers).
func (s *RekorServer) warmAnswers() {
	for _, e := range s.Log.inactiveEntries() {
		if forged, _ := s.state(e.UUID); forged {
			continue
		}
		anon, err := s.render(e)
		if err != nil {
			continue
		}
		data, err := json.Marshal(map[string]models.LogEntryAnon{e.UUID: anon})
		if err != nil {
			continue
		}
		s.answersMu.Lock()
		if s.answers != nil {
			s.answers[e] = data
		}
		s.answersMu.Unlock()
	}
}

// leafOf is the leaf hash (hex) of a proposed entry, as Rekor computes it
// to find the entry (rekor pkg/api/entries.go SearchLogQueryHandler): the
// entry is parsed and canonicalized, its signature checked on the way.
// Answers for hashedrekord proposals are memoized by proposalKey.
func (s *RekorServer) leafOf(pe models.ProposedEntry) (string, error) {
	key, memo := proposalKey(pe)
	if memo {
		s.leavesMu.RLock()
		leaf, ok := s.leaves[key]
		s.leavesMu.RUnlock()
		if ok {
			return leaf, nil
		}
	}
	leaf, err := computeLeaf(pe)
	if err == nil && memo {
		s.leavesMu.Lock()
		if s.leaves != nil {
			s.leaves[key] = leaf
		}
		s.leavesMu.Unlock()
	}
	return leaf, err
}

// computeLeaf is leafOf without the memo.
func computeLeaf(pe models.ProposedEntry) (string, error) {
	impl, err := types.UnmarshalEntry(pe)
	if err != nil {
		return "", err
	}
	can, err := types.CanonicalizeEntry(context.Background(), impl)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", rfc6962.DefaultHasher.HashLeaf(can)), nil
}

// proposalKey is the memo key of a hashedrekord proposal: its JSON
// encoding, which holds everything computeLeaf reads of it (the kind,
// the API version, and the spec as decoded: maps encode with their keys
// sorted, json.Numbers verbatim, and decoded strings are valid UTF-8), so
// that proposals with the same key are equal, however their JSON was
// laid out. Other kinds are not memoized.
func proposalKey(pe models.ProposedEntry) (string, bool) {
	hr, ok := pe.(*models.Hashedrekord)
	if !ok {
		return "", false
	}
	data, err := json.Marshal(hr)
	if err != nil {
		return "", false
	}
	return string(data), true
}

// ForgeSET makes the server answer for the entry with a signed entry
// timestamp signed by a key that is not the log's.
func (s *RekorServer) ForgeSET(uuid string) {
	s.mu.Lock()
	s.forged[uuid] = true
	s.mu.Unlock()
	s.answersMu.Lock()
	defer s.answersMu.Unlock()
	for e := range s.answers {
		if e.UUID == uuid {
			delete(s.answers, e)
		}
	}
}

// Hide makes the server deny knowing the entry.
func (s *RekorServer) Hide(uuid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hidden[uuid] = true
}

// ForgedSET returns a SET for e signed by the forger's key.
func (s *RekorServer) ForgedSET(e *LogEntry) []byte {
	set, err := s.Log.SignSET(e, s.forger)
	if err != nil {
		panic(err)
	}
	return set
}

func (s *RekorServer) state(uuid string) (forged, hidden bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.forged[uuid], s.hidden[uuid]
}

func (s *RekorServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/api/v1/log" && r.Method == http.MethodGet:
		info, err := s.Log.Info()
		if err != nil {
			apiError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, info)
	case p == "/api/v1/log/publicKey" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(s.Log.PublicKeyPEM())
	case p == "/api/v1/index/retrieve" && r.Method == http.MethodPost:
		s.searchIndex(w, r)
	case p == "/api/v1/log/entries/retrieve" && r.Method == http.MethodPost:
		s.retrieve(w, r)
	case p == "/api/v1/log/entries" && r.Method == http.MethodPost:
		s.create(w, r)
	case p == "/api/v1/log/entries" && r.Method == http.MethodGet:
		idx, err := strconv.ParseInt(r.URL.Query().Get("logIndex"), 10, 64)
		if err != nil {
			apiError(w, http.StatusBadRequest, "logIndex: "+err.Error())
			return
		}
		e, ok := s.Log.EntryAt(idx)
		s.answerOne(w, e, ok)
	case strings.HasPrefix(p, "/api/v1/log/entries/") && r.Method == http.MethodGet:
		e, ok := s.Log.Entry(strings.TrimPrefix(p, "/api/v1/log/entries/"))
		s.answerOne(w, e, ok)
	default:
		apiError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+p)
	}
}

func (s *RekorServer) answerOne(w http.ResponseWriter, e *LogEntry, ok bool) {
	if ok {
		if _, hidden := s.state(e.UUID); hidden {
			ok = false
		}
	}
	if !ok {
		apiError(w, http.StatusNotFound, "entry not found")
		return
	}
	anon, err := s.render(e)
	if err != nil {
		apiError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]models.LogEntryAnon{e.UUID: anon})
}

func (s *RekorServer) render(e *LogEntry) (models.LogEntryAnon, error) {
	proof, err := s.Log.InclusionProof(e)
	if err != nil {
		return models.LogEntryAnon{}, err
	}
	set := e.SET
	if forged, _ := s.state(e.UUID); forged {
		set = s.ForgedSET(e)
	}
	return s.Log.Anon(e, set, proof), nil
}

func (s *RekorServer) searchIndex(w http.ResponseWriter, r *http.Request) {
	var q models.SearchIndex
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&q); err != nil {
		apiError(w, http.StatusBadRequest, "search index: "+err.Error())
		return
	}
	if q.Hash == "" {
		// Searching by public key or email is not modelled; answer as Rekor
		// does for a query that matches nothing.
		writeJSON(w, http.StatusOK, []string{})
		return
	}
	hash := strings.ToLower(q.Hash)
	if !strings.Contains(hash, ":") {
		hash = "sha256:" + hash
	}
	uuids := []string{}
	for _, u := range s.Log.Search(hash) {
		if _, hidden := s.state(u); !hidden {
			uuids = append(uuids, u)
		}
	}
	writeJSON(w, http.StatusOK, uuids)
}

func (s *RekorServer) retrieve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		apiError(w, http.StatusBadRequest, "retrieve: "+err.Error())
		return
	}
	uuids, indexes, leaves, known := s.knownQuery(body)
	var proposed []models.ProposedEntry
	if !known {
		var q models.SearchLogQuery
		if err := q.UnmarshalJSON(body); err != nil {
			apiError(w, http.StatusBadRequest, "retrieve: "+err.Error())
			return
		}
		uuids, indexes, proposed = q.EntryUUIDs, q.LogIndexes, q.Entries()
	}
	if n := len(uuids) + len(indexes) + len(leaves) + len(proposed); n > 10 {
		apiError(w, http.StatusUnprocessableEntity, fmt.Sprintf("at most 10 entries per request, got %d", n))
		return
	}
	var found []*LogEntry
	for _, u := range uuids {
		if e, ok := s.Log.Entry(u); ok {
			found = append(found, e)
		}
	}
	for _, i := range indexes {
		if i == nil {
			continue
		}
		if e, ok := s.Log.EntryAt(*i); ok {
			found = append(found, e)
		}
	}
	for _, pe := range proposed {
		leaf, err := s.leafOf(pe)
		if err != nil {
			apiError(w, http.StatusBadRequest, "proposed entry: "+err.Error())
			return
		}
		leaves = append(leaves, leaf)
	}
	for _, leaf := range leaves {
		found = append(found, s.Log.EntriesOf(leaf)...)
	}
	s.answerList(w, found)
}

// knownQuery reads a retrieve query whose proposed entries are all known
// (the JSON of each is a key of s.known) as SearchLogQuery.UnmarshalJSON
// reads it, in one pass: it decodes the query with the same decoder into
// the same fields, its entries ("null" or absent: none) into a list of
// raw entries, and each of those, known, decoded as an entry to a
// proposal with that leaf. It answers false for anything else (no
// proposed entries, one unknown, or an error), which is then read and
// answered as computed.
func (s *RekorServer) knownQuery(body []byte) (uuids []string, indexes []*int64, leaves []string, ok bool) {
	var data struct {
		Entries    []json.RawMessage `json:"entries"`
		EntryUUIDs []string          `json:"entryUUIDs"`
		LogIndexes []*int64          `json:"logIndexes"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&data); err != nil || data.Entries == nil {
		return nil, nil, nil, false
	}
	leaves = make([]string, len(data.Entries))
	s.leavesMu.RLock()
	defer s.leavesMu.RUnlock()
	for i, el := range data.Entries {
		if leaves[i], ok = s.known[string(el)]; !ok {
			return nil, nil, nil, false
		}
	}
	return data.EntryUUIDs, data.LogIndexes, leaves, true
}

// answerList answers a retrieve query with the entries found, but those
// hidden: a list of {uuid: entry}, as writeJSON encodes it. When each
// entry's answer is ready (answers), the list is joined from them.
func (s *RekorServer) answerList(w http.ResponseWriter, found []*LogEntry) {
	var shown []*LogEntry
	for _, e := range found {
		if _, hidden := s.state(e.UUID); !hidden {
			shown = append(shown, e)
		}
	}
	if data, ok := s.readyList(shown); ok {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(data)
		return
	}
	out := []map[string]models.LogEntryAnon{}
	for _, e := range shown {
		anon, err := s.render(e)
		if err != nil {
			apiError(w, http.StatusInternalServerError, err.Error())
			return
		}
		out = append(out, map[string]models.LogEntryAnon{e.UUID: anon})
	}
	writeJSON(w, http.StatusOK, out)
}

// readyList joins the ready answers for entries into the list that
// writeJSON encodes (a JSON encoder writes a list's elements as each
// alone, separated by commas, and a newline after the value); false if
// one is not ready.
func (s *RekorServer) readyList(entries []*LogEntry) ([]byte, bool) {
	s.answersMu.RLock()
	defer s.answersMu.RUnlock()
	size := 3
	for _, e := range entries {
		data, ok := s.answers[e]
		if !ok {
			return nil, false
		}
		size += len(data) + 1
	}
	out := make([]byte, 0, size)
	out = append(out, '[')
	for i, e := range entries {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, s.answers[e]...)
	}
	return append(out, "]\n"...), true
}

// create is POST /api/v1/log/entries: anyone may log an entry, and Rekor
// accepts a copy of an old one in its active shard (it checks a
// certificate's validity at its own NotBefore, not now), integrated now.
func (s *RekorServer) create(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		apiError(w, http.StatusBadRequest, "create: "+err.Error())
		return
	}
	pe, err := models.UnmarshalProposedEntry(bytes.NewReader(body), runtime.JSONConsumer())
	if err != nil {
		apiError(w, http.StatusBadRequest, "proposed entry: "+err.Error())
		return
	}
	impl, err := types.UnmarshalEntry(pe)
	if err != nil {
		apiError(w, http.StatusBadRequest, "proposed entry: "+err.Error())
		return
	}
	can, err := types.CanonicalizeEntry(r.Context(), impl)
	if err != nil {
		apiError(w, http.StatusBadRequest, "proposed entry: "+err.Error())
		return
	}
	hash := ""
	if hr, ok := pe.(*models.Hashedrekord); ok && hr.Spec != nil {
		if spec, ok := hr.Spec.(map[string]any); ok {
			if data, ok := spec["data"].(map[string]any); ok {
				if h, ok := data["hash"].(map[string]any); ok {
					hash = fmt.Sprintf("%v:%v", h["algorithm"], h["value"])
				}
			}
		}
	}
	e, err := s.Log.Append(can, hash, time.Now())
	if err != nil {
		apiError(w, http.StatusInternalServerError, err.Error())
		return
	}
	anon, err := s.render(e)
	if err != nil {
		apiError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, map[string]models.LogEntryAnon{e.UUID: anon})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func apiError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"code": code, "message": msg})
}
