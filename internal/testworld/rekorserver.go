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
	return &RekorServer{Log: log, forged: map[string]bool{}, hidden: map[string]bool{}, forger: forger}
}

// ForgeSET makes the server answer for the entry with a signed entry
// timestamp signed by a key that is not the log's.
func (s *RekorServer) ForgeSET(uuid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forged[uuid] = true
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
	var q models.SearchLogQuery
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err == nil {
		err = q.UnmarshalJSON(body)
	}
	if err != nil {
		apiError(w, http.StatusBadRequest, "retrieve: "+err.Error())
		return
	}
	if n := len(q.EntryUUIDs) + len(q.LogIndexes) + len(q.Entries()); n > 10 {
		apiError(w, http.StatusUnprocessableEntity, fmt.Sprintf("at most 10 entries per request, got %d", n))
		return
	}
	var found []*LogEntry
	for _, u := range q.EntryUUIDs {
		if e, ok := s.Log.Entry(u); ok {
			found = append(found, e)
		}
	}
	for _, i := range q.LogIndexes {
		if i == nil {
			continue
		}
		if e, ok := s.Log.EntryAt(*i); ok {
			found = append(found, e)
		}
	}
	for _, pe := range q.Entries() {
		impl, err := types.UnmarshalEntry(pe)
		if err != nil {
			apiError(w, http.StatusBadRequest, "proposed entry: "+err.Error())
			return
		}
		can, err := types.CanonicalizeEntry(context.Background(), impl)
		if err != nil {
			apiError(w, http.StatusBadRequest, "proposed entry: "+err.Error())
			return
		}
		leaf := rfc6962.DefaultHasher.HashLeaf(can)
		found = append(found, s.Log.EntriesOf(fmt.Sprintf("%x", leaf))...)
	}
	out := []map[string]models.LogEntryAnon{}
	for _, e := range found {
		if _, hidden := s.state(e.UUID); hidden {
			continue
		}
		anon, err := s.render(e)
		if err != nil {
			apiError(w, http.StatusInternalServerError, err.Error())
			return
		}
		out = append(out, map[string]models.LogEntryAnon{e.UUID: anon})
	}
	writeJSON(w, http.StatusOK, out)
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
