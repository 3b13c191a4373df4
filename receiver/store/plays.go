package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/palier-lifts/palier/wire"
)

// Proof of play: the notice_shown events of the cabins, one row each,
// keyed like the event (site, cabin, epoch, seq) so a batch delivered
// twice adds nothing. Written in the ingest transaction.

// PlayRow is one notice_shown event as stored.
type PlayRow struct {
	Site, Cabin, Epoch string
	Seq                uint64
	wire.NoticeShownData
}

// PlaysOf returns the notice_shown events of batches whose data decodes;
// events dated beyond MaxClockSkew past received are left out, as they
// are of facts. The receiver decodes batches leniently (a newer agent's
// fields are kept), so the data is checked again here: a row the API
// would misreport is not written.
func PlaysOf(batches []wire.Batch, received time.Time) []PlayRow {
	var out []PlayRow
	eachTrusted(batches, received, func(b *wire.Batch, e *wire.Event) {
		if e.Type != wire.TypeNoticeShown {
			return
		}
		var d wire.NoticeShownData
		if json.Unmarshal(e.Data, &d) != nil || d.Validate() != nil {
			return
		}
		out = append(out, PlayRow{Site: b.Site, Cabin: b.Cabin, Epoch: b.Epoch, Seq: e.Seq, NoticeShownData: d})
	})
	return out
}

// InsertPlaySQL stores one PlayRow (PlayArgs), nothing if stored already.
const InsertPlaySQL = `INSERT INTO notice_plays (site, cabin, epoch, seq, notice, version, lang, layout, orientation, from_us, to_us, shown_ms, times)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site, cabin, epoch, seq) DO NOTHING`

// PlayArgs are the arguments of InsertPlaySQL for r.
func PlayArgs(r PlayRow) []any {
	return []any{r.Site, r.Cabin, r.Epoch, int64(r.Seq), r.Notice, int64(r.Version), r.Lang, r.Layout, r.Orientation,
		Micros(r.From), Micros(r.To), r.ShownMS, int64(r.Times)}
}

// PlaysTable is the table of migration "notice_plays", the same in both
// engines but for the integer type.
func PlaysTable(bigint string) string {
	return `CREATE TABLE notice_plays (
		site        TEXT NOT NULL,
		cabin       TEXT NOT NULL,
		epoch       TEXT NOT NULL,
		seq         ` + bigint + ` NOT NULL,
		notice      TEXT NOT NULL,
		version     ` + bigint + ` NOT NULL,
		lang        TEXT NOT NULL,
		layout      TEXT NOT NULL,
		orientation TEXT NOT NULL,
		from_us     ` + bigint + ` NOT NULL,
		to_us       ` + bigint + ` NOT NULL,
		shown_ms    ` + bigint + ` NOT NULL,
		times       ` + bigint + ` NOT NULL,
		PRIMARY KEY (site, cabin, epoch, seq)
	);
	CREATE INDEX notice_plays_site_from ON notice_plays (site, from_us, notice);`
}

// NoticePlays is how long and how often a notice was shown in one cabin in
// one language over a period.
type NoticePlays struct {
	Notice  string
	Cabin   string
	Lang    string
	ShownMS int64 // milliseconds on screen in all
	Times   int64 // times it came on screen
	First   time.Time
	Last    time.Time // the end of the last record
}

// NoticePlaysSQL sums a site's plays per notice, cabin and language over
// records starting in [since, until); notice "" means every notice.
// Arguments: site, notice, notice, since_us, until_us.
const NoticePlaysSQL = `SELECT notice, cabin, lang, CAST(SUM(shown_ms) AS BIGINT), CAST(SUM(times) AS BIGINT), MIN(from_us), MAX(to_us) FROM notice_plays
	WHERE site = ? AND (? = '' OR notice = ?) AND from_us >= ? AND from_us < ?
	GROUP BY notice, cabin, lang`

// QueryNoticePlays runs NoticePlaysSQL (numbered for PostgreSQL by the
// caller) and orders the rows by notice, cabin then language as bytes.
func QueryNoticePlays(ctx context.Context, db Querier, query, site, notice string, since, until time.Time) ([]NoticePlays, error) {
	var out []NoticePlays
	err := queryEach(ctx, db, query, []any{site, notice, notice, Micros(since), Micros(until)}, func(rows Rows) error {
		var p NoticePlays
		var first, last int64
		if err := rows.Scan(&p.Notice, &p.Cabin, &p.Lang, &p.ShownMS, &p.Times, &first, &last); err != nil {
			return err
		}
		p.First, p.Last = FromMicros(first), FromMicros(last)
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read notice plays of %s: %w", site, err)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Notice != b.Notice {
			return a.Notice < b.Notice
		}
		if a.Cabin != b.Cabin {
			return a.Cabin < b.Cabin
		}
		return a.Lang < b.Lang
	})
	return out, nil
}
