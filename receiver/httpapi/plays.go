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
	// Sums in milliseconds, turned into seconds once: adding seconds as
	// floats would answer 11.693000000000001.
	var total int64
	var cabinMS []int64
	for _, p := range got { // ordered by cabin then language
		if n := len(out.Cabins); n == 0 || out.Cabins[n-1].Cabin != p.Cabin {
			out.Cabins = append(out.Cabins, CabinPlayJSON{Cabin: p.Cabin, Languages: []LangPlayJSON{}})
			cabinMS = append(cabinMS, 0)
		}
		i := len(out.Cabins) - 1
		c := &out.Cabins[i]
		c.Languages = append(c.Languages, LangPlayJSON{Lang: p.Lang, Shown: seconds(p.ShownMS), Times: p.Times, First: p.First.UTC(), Last: p.Last.UTC()})
		cabinMS[i] += p.ShownMS
		c.Shown = seconds(cabinMS[i])
		c.Times += p.Times
		total += p.ShownMS
		out.Times += p.Times
	}
	out.Shown = seconds(total)
	writeJSON(w, http.StatusOK, out)
}

func seconds(ms int64) float64 { return float64(ms) / 1000 }
