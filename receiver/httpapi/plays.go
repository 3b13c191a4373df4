package httpapi

import (
	"net/http"
	"time"
)

// PlaysJSON answers GET /api/v1/sites/{site}/notices/{id}/plays: where and
// how long a notice was shown (proof of play), per cabin and language.
type PlaysJSON struct {
	Site   string          `json:"site"`
	Notice string          `json:"notice"`
	Since  time.Time       `json:"since"`
	Until  time.Time       `json:"until"`
	Shown  float64         `json:"shown_s"` // seconds on screen, every cabin and language
	Times  int64           `json:"times"`   // times it came on screen
	Cabins []CabinPlayJSON `json:"cabins"`
}

// CabinPlayJSON is one cabin's share of a notice's plays.
type CabinPlayJSON struct {
	Cabin     string         `json:"cabin"`
	Shown     float64        `json:"shown_s"`
	Times     int64          `json:"times"`
	Languages []LangPlayJSON `json:"languages"`
}

// LangPlayJSON is how long a notice was shown in one language in a cabin.
type LangPlayJSON struct {
	Lang  string    `json:"lang"`
	Shown float64   `json:"shown_s"`
	Times int64     `json:"times"`
	First time.Time `json:"first"` // the start of the first record counted
	Last  time.Time `json:"last"`  // the end of the last
}

func (a *API) noticePlays(w http.ResponseWriter, r *http.Request) {
	id, ok := ids(w, r, "site", "id")
	if !ok {
		return
	}
	_, since, until, ok := period(w, r, a.o.Clock())
	if !ok {
		return
	}
	got, err := a.o.Store.NoticePlays(r.Context(), id[0], id[1], since, until)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	out := PlaysJSON{Site: id[0], Notice: id[1], Since: since.UTC(), Until: until.UTC(), Cabins: []CabinPlayJSON{}}
	for _, p := range got { // ordered by cabin then language
		if n := len(out.Cabins); n == 0 || out.Cabins[n-1].Cabin != p.Cabin {
			out.Cabins = append(out.Cabins, CabinPlayJSON{Cabin: p.Cabin, Languages: []LangPlayJSON{}})
		}
		c := &out.Cabins[len(out.Cabins)-1]
		s := float64(p.ShownMS) / 1000
		c.Languages = append(c.Languages, LangPlayJSON{Lang: p.Lang, Shown: s, Times: p.Times, First: p.First.UTC(), Last: p.Last.UTC()})
		c.Shown += s
		c.Times += p.Times
		out.Shown += s
		out.Times += p.Times
	}
	writeJSON(w, http.StatusOK, out)
}
