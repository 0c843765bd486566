package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/server/store"
)

// Problem is an RFC 9457 problem: every refusal of the admin API. Field names the input at fault
// (a JSON field of the body, a path or query parameter, a header), "" when there is none.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Field  string `json:"field,omitempty"`
}

func (p *Problem) Error() string {
	if p.Field == "" {
		return p.Detail
	}
	return p.Field + ": " + p.Detail
}

func problem(status int, field, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Field: field}
}

// writeProblem answers p (503 with Retry-After: 1).
func writeProblem(w http.ResponseWriter, p *Problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if p.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	body, _ := json.Marshal(p)
	body = append(body, '\n')
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}

// fromError turns an error of the store (or of this package) into a problem; any other error is a
// 500 that says nothing of its cause (the caller logs it).
func fromError(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var se *store.Error
	if errors.As(err, &se) {
		status := se.Status
		if status < 400 || status > 599 {
			status = http.StatusInternalServerError
		}
		field := se.Field
		if status == http.StatusPreconditionFailed && field == "version" {
			field = "If-Match" // the version a client states is its If-Match header
		}
		return problem(status, field, se.Detail)
	}
	return problem(http.StatusInternalServerError, "", "internal error")
}

// Body limits.
const (
	maxBody   = 1 << 20
	maxImport = 64 << 20
)

// decode reads one JSON value into v: Content-Type application/json (or absent), at most limit
// bytes, no unknown field, nothing after the value. Every refusal names what it can.
func decode(r *http.Request, v interface{}) *Problem {
	if p := jsonContent(r); p != nil {
		return p
	}
	data, p := readBody(r, maxBody)
	if p != nil {
		return p
	}
	return decodeJSON(data, v)
}

func jsonContent(r *http.Request) *Problem {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return problem(http.StatusUnsupportedMediaType, "Content-Type", "want application/json, not "+strconv.Quote(ct))
	}
	return nil
}

func readBody(r *http.Request, limit int64) ([]byte, *Problem) {
	if r.Body == nil {
		return nil, problem(http.StatusBadRequest, "", "a JSON body is required")
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, problem(http.StatusBadRequest, "", "reading the body: "+err.Error())
	}
	if int64(len(data)) > limit {
		return nil, problem(http.StatusRequestEntityTooLarge, "", "the body is larger than "+strconv.FormatInt(limit, 10)+" bytes")
	}
	return data, nil
}

func decodeJSON(data []byte, v interface{}) *Problem {
	if len(bytes.TrimSpace(data)) == 0 {
		return problem(http.StatusBadRequest, "", "a JSON body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return problem(http.StatusBadRequest, "", "more than one JSON value in the body (data after offset "+strconv.FormatInt(dec.InputOffset(), 10)+")")
	}
	return nil
}

// jsonProblem describes a decoding error, naming the field when encoding/json does.
func jsonProblem(err error) *Problem {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return problem(http.StatusBadRequest, "", "malformed JSON at offset "+strconv.FormatInt(syn.Offset, 10)+": "+strings.TrimPrefix(syn.Error(), "json: "))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return problem(http.StatusBadRequest, "", "want a JSON "+jsonKind(typ.Type.Kind().String())+", not "+typ.Value)
		}
		return problem(http.StatusBadRequest, field, "want a "+jsonKind(typ.Type.Kind().String())+", not "+typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return problem(http.StatusBadRequest, "", "malformed JSON: the body ends inside a value")
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		field, _ := strconv.Unquote(name)
		return problem(http.StatusBadRequest, field, "unknown field")
	}
	return problem(http.StatusBadRequest, "", "malformed JSON: "+strings.TrimPrefix(msg, "json: "))
}

func jsonKind(k string) string {
	switch k {
	case "slice", "array":
		return "list"
	case "struct", "map":
		return "object"
	case "int64", "int", "int32", "float64":
		return "number"
	case "bool":
		return "boolean"
	}
	return k
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	body, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, problem(http.StatusInternalServerError, "", "internal error"))
		return
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// etag is the ETag of an object version.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch reads If-Match: absent or "*" is 0 (unconditional), "\"<n>\"" is n.
func ifMatch(r *http.Request) (int64, *Problem) {
	v := r.Header.Values("If-Match")
	if len(v) == 0 {
		return 0, nil
	}
	s := strings.TrimSpace(strings.Join(v, ","))
	if s == "*" {
		return 0, nil
	}
	if len(s) < 3 || s[0] != '"' || s[len(s)-1] != '"' {
		return 0, problem(http.StatusBadRequest, "If-Match", `want one strong ETag such as "3" (the version read), or *`)
	}
	n, err := strconv.ParseInt(s[1:len(s)-1], 10, 64)
	if err != nil || n < 1 {
		return 0, problem(http.StatusBadRequest, "If-Match", `want one strong ETag such as "3" (the version read), or *`)
	}
	return n, nil
}
