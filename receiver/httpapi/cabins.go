package httpapi

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/palier-lifts/palier/receiver/situation"
	"github.com/palier-lifts/palier/wire"
)

// cabinQuery is what GET /api/v1/cabins may ask: filters, and a page.
type cabinQuery struct {
	site      string
	situation string
	attention *bool
	limit     int    // 0: every cabin
	after     string // the cursor: the last cabin of the page before
}

// situationNames are the situations a filter may name.
var situationNames = situation.Names

// parseCabinQuery reads the query string of the cabins list; the error
// names the bad parameter.
func parseCabinQuery(v url.Values) (cabinQuery, *APIError) {
	var q cabinQuery
	for k, vs := range v {
		if k == "" {
			return q, &APIError{Param: "query", Error: "a parameter without a name"}
		}
		if len(vs) != 1 {
			return q, &APIError{Param: k, Error: fmt.Sprintf("given %d times (at most once)", len(vs))}
		}
		val := vs[0]
		switch k {
		case "site":
			if err := wire.ValidateID(val); err != nil {
				return q, &APIError{Param: k, Error: err.Error()}
			}
			q.site = val
		case "situation":
			if !slices.Contains(situationNames, val) {
				return q, &APIError{Param: k, Error: fmt.Sprintf("unknown situation %q (want one of %s)", val, strings.Join(situationNames, ", "))}
			}
			q.situation = val
		case "attention":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return q, &APIError{Param: k, Error: fmt.Sprintf("%q (want true or false)", val)}
			}
			q.attention = &b
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 1000 {
				return q, &APIError{Param: k, Error: fmt.Sprintf("%q (want 1 to 1000)", val)}
			}
			q.limit = n
		case "cursor":
			b, err := base64.RawURLEncoding.DecodeString(val)
			if err != nil || len(b) == 0 {
				return q, &APIError{Param: k, Error: "not a cursor this API gave"}
			}
			q.after = string(b)
		default:
			return q, &APIError{Param: k, Error: fmt.Sprintf("unknown parameter %q (want site, situation, attention, limit or cursor)", k)}
		}
	}
	return q, nil
}

// needsAttention says whether a cabin is in a situation someone must act
// on (critical or warning).
func needsAttention(c cabinView) bool {
	return slices.ContainsFunc(c.Situations, func(s situation.Situation) bool { return s.Severity != situation.Info })
}

// sortKey orders the list: cabins needing attention first, the most
// severe first among them, then by site and cabin. It is also the cursor.
func sortKey(c cabinView) string {
	rank := 3
	for _, s := range c.Situations {
		switch s.Severity {
		case situation.Critical:
			rank = min(rank, 0)
		case situation.Warning:
			rank = min(rank, 1)
		}
	}
	return strconv.Itoa(rank) + "\x00" + c.Site + "\x00" + c.Cabin.Cabin
}

// filterCabins applies q to the cabins: filters, order, page. next is the
// cursor of the page after, or "".
func filterCabins(all []cabinView, q cabinQuery) (page []cabinView, next string) {
	out := make([]cabinView, 0, len(all))
	for _, c := range all {
		if q.site != "" && c.Site != q.site {
			continue
		}
		if q.situation != "" && !slices.ContainsFunc(c.Situations, func(s situation.Situation) bool { return s.Name == q.situation }) {
			continue
		}
		if q.attention != nil && needsAttention(c) != *q.attention {
			continue
		}
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b cabinView) int { return cmp.Compare(sortKey(a), sortKey(b)) })
	if q.after != "" {
		i, _ := slices.BinarySearchFunc(out, q.after, func(c cabinView, k string) int { return cmp.Compare(sortKey(c), k) })
		for i < len(out) && sortKey(out[i]) <= q.after {
			i++
		}
		out = out[i:]
	}
	if q.limit > 0 && len(out) > q.limit {
		out = out[:q.limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(sortKey(out[len(out)-1])))
	}
	return out, next
}

// linkNext sets the Link header of the next page (RFC 8288): the list
// stays a plain array.
func linkNext(w http.ResponseWriter, r *http.Request, next string) {
	if next == "" {
		return
	}
	v := r.URL.Query()
	v.Set("cursor", next)
	w.Header().Set("Link", "<"+r.URL.Path+"?"+v.Encode()+`>; rel="next"`)
}
