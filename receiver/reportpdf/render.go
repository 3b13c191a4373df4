package reportpdf

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/palier-lifts/palier/receiver/report"
)

// Languages are those Render writes, the first the default.
var Languages = report.Languages

// Page geometry, in millimetres (A4 portrait).
const (
	margin  = 18.0
	width   = 210 - 2*margin
	line    = 6.0
	labelW  = 58.0
	chartH  = 28.0
	nbAlias = "{nb}"
)

// Render writes m as a PDF in lang (fr, en or it) to w. The PDF is the
// same bytes for the same report: its dates are the report's.
func Render(w io.Writer, m report.Monthly, lang string) error {
	t, ok := languages[lang]
	if !ok {
		return fmt.Errorf("render report: language %q (want %s)", lang, strings.Join(Languages, ", "))
	}
	loc, err := time.LoadLocation(m.TimeZone)
	if err != nil {
		return fmt.Errorf("render report: time zone %q: %w", m.TimeZone, err)
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetMargins(margin, margin, margin)
	pdf.SetAutoPageBreak(true, margin)
	pdf.AddUTF8FontFromBytes("go", "", goregular.TTF)
	pdf.AddUTF8FontFromBytes("go", "B", gobold.TTF)
	pdf.SetCreationDate(m.Made)
	pdf.SetModificationDate(m.Made)
	pdf.SetCatalogSort(true)
	pdf.SetLang(lang)
	since := m.Since.In(loc)
	title := t.title + " — " + m.Site + " — " + t.month(since)
	pdf.SetTitle(title, true)
	pdf.SetProducer("Palier", true)
	pdf.AliasNbPages(nbAlias)
	pdf.SetFooterFunc(func() {
		pdf.SetY(-margin + 4)
		pdf.SetFont("go", "", 8)
		pdf.SetTextColor(110, 110, 110)
		pdf.CellFormat(width/2, 4, m.Site+" · "+t.month(since), "", 0, "L", false, 0, "")
		pdf.CellFormat(width/2, 4, fmt.Sprintf(t.page, pdf.PageNo(), nbAlias), "", 0, "R", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
	})
	pdf.AddPage()

	pdf.SetFont("go", "B", 16)
	pdf.MultiCell(width, 8, title, "", "L", false)
	pdf.SetFont("go", "", 10)
	last := m.Until.In(loc).Add(-time.Nanosecond)
	pdf.MultiCell(width, 5, fmt.Sprintf(t.period, t.date(since), t.date(last))+" ("+fmt.Sprintf(t.timeZone, m.TimeZone)+") · "+
		fmt.Sprintf(t.made, t.dateTime(m.Made.In(loc))), "", "L", false)
	pdf.Ln(3)

	for _, c := range m.Cabins {
		cabin(pdf, t, c, loc)
	}

	heading(pdf, t.noticesShown)
	pdf.SetFont("go", "", 10)
	switch {
	case !m.NoticesShown.Available:
		pdf.MultiCell(width, 5, t.noticesUnavailable, "", "L", false)
	case len(m.NoticesShown.Notices) == 0:
		pdf.MultiCell(width, 5, t.none, "", "L", false)
	default:
		for _, n := range m.NoticesShown.Notices {
			row(pdf, t.notice+" "+n.Notice, n.Cabin+" · "+n.Language+" · "+fmt.Sprintf(t.shown, n.Times, t.dur(n.Seconds)))
		}
	}
	if m.EnergyBasis != "" {
		pdf.Ln(3)
		pdf.SetFont("go", "", 8)
		pdf.MultiCell(width, 4, t.energyBasis, "", "L", false)
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("render report %s %s: %w", m.Site, m.Month, err)
	}
	return nil
}

func heading(pdf *fpdf.Fpdf, s string) {
	if pdf.GetY() > 297-margin-40 {
		pdf.AddPage()
	}
	pdf.Ln(2)
	pdf.SetFont("go", "B", 12)
	pdf.SetFillColor(232, 238, 244)
	pdf.CellFormat(width, 8, s, "", 1, "L", true, 0, "")
	pdf.Ln(1)
}

// row writes a label and its value, the value wrapped.
func row(pdf *fpdf.Fpdf, label, value string) {
	y := pdf.GetY()
	pdf.SetFont("go", "B", 10)
	pdf.MultiCell(labelW, line, label, "", "L", false)
	yl := pdf.GetY()
	pdf.SetXY(margin+labelW, y)
	pdf.SetFont("go", "", 10)
	pdf.MultiCell(width-labelW, line, value, "", "L", false)
	if yl > pdf.GetY() {
		pdf.SetY(yl)
	}
}

func cabin(pdf *fpdf.Fpdf, t words, c report.MonthlyCabin, loc *time.Location) {
	heading(pdf, fmt.Sprintf(t.cabin, c.Cabin.Cabin))
	if c.Availability.Availability == nil {
		row(pdf, t.availability, t.notMonitored)
	} else {
		row(pdf, t.availability, t.percent(*c.Availability.Availability)+" ("+t.monitored+" "+t.dur(c.MonitoredSeconds)+")")
		if c.UnavailableSeconds > 0 {
			var parts []string
			for _, p := range []struct {
				s    float64
				name string
			}{{c.OutOfServiceSeconds, t.outOfService}, {c.EntrapmentSeconds, t.entrapment}, {c.OfflineSeconds, t.offline}, {c.LinkLostSeconds, t.linkLost}} {
				if p.s > 0 {
					parts = append(parts, p.name+" "+t.dur(p.s))
				}
			}
			row(pdf, t.unavailable, t.dur(c.UnavailableSeconds)+": "+strings.Join(parts, ", "))
		}
	}
	days := len(c.TripsPerDay)
	trips := t.num(float64(c.Trips), 0)
	if days > 0 {
		trips += " · " + fmt.Sprintf(t.perDay, t.num(float64(c.Trips)/float64(days), 1))
		best := slices.MaxFunc(c.TripsPerDay, func(a, b report.DayCount) int { return a.Count - b.Count })
		if best.Count > 0 {
			d, _ := time.ParseInLocation(time.DateOnly, best.Day, loc)
			trips += " · " + fmt.Sprintf(t.busiestDay, t.date(d), best.Count)
		}
	}
	row(pdf, t.trips, trips)
	row(pdf, t.doorCycles, t.num(float64(c.DoorCycles), 0))

	faults := t.none
	if len(c.Faults) > 0 {
		faults = t.num(float64(len(c.Faults)), 0) + " · " + fmt.Sprintf(t.faultTime, t.dur(c.FaultSeconds))
		for _, f := range c.Faults {
			s := "\n" + t.dateTime(f.Raised.In(loc)) + " · " + t.code + " " + fmt.Sprint(f.Code)
			if f.Text != "" {
				s += " (" + f.Text + ")"
			}
			s += " · " + t.dur(f.Seconds)
			if f.Cleared == nil {
				s += " · " + t.stillActive
			}
			faults += s
		}
	}
	row(pdf, t.faults, faults)

	traps := t.none
	if len(c.Entrapments) > 0 {
		var total float64
		for _, e := range c.Entrapments {
			total += e.Seconds
		}
		traps = t.num(float64(len(c.Entrapments)), 0) + " · " + t.total + " " + t.dur(total)
		for _, e := range c.Entrapments {
			traps += "\n" + incident(t, e, loc)
		}
	}
	row(pdf, t.entrapments, traps)

	alarms := t.none
	if a := c.Alarms; a.Count > 0 {
		alarms = t.num(float64(a.Count), 0) + " · " + fmt.Sprintf(t.acknowledged, a.Acknowledged)
		if a.MedianAckSeconds != nil {
			alarms += " · " + fmt.Sprintf(t.medianAck, t.dur(*a.MedianAckSeconds)) + " · " + fmt.Sprintf(t.maxAck, t.dur(*a.MaxAckSeconds))
		}
		for _, e := range a.List {
			alarms += "\n" + incident(t, e, loc)
		}
		if a.Truncated {
			alarms += "\n" + t.truncated
		}
	}
	row(pdf, t.alarms, alarms)

	if e := c.Energy; e != nil {
		p := e.Params
		row(pdf, t.energy, t.num(e.TotalKWh, 1)+" kWh ("+fmt.Sprintf(t.standby, t.num(e.StandbyKWh, 1)+" kWh")+", "+
			fmt.Sprintf(t.running, t.num(e.RunningKWh, 1)+" kWh")+")\n"+
			fmt.Sprintf(t.energyParams, t.num(p.StandbyW, 0), t.num(p.TripWh, 1), t.num(p.PerFloorWh, 1)))
	} else {
		row(pdf, t.energy, t.noEnergy)
	}
	chart(pdf, t, c.TripsPerDay)
}

// incident writes one alarm or entrapment: when, how long, acknowledged
// after how long.
func incident(t words, e report.Incident, loc *time.Location) string {
	s := t.dateTime(e.Raised.In(loc)) + " · " + t.dur(e.Seconds)
	if e.AckSeconds == nil {
		return s + " · " + t.neverAck
	}
	return s + " · " + fmt.Sprintf(t.ackAfter, t.dur(*e.AckSeconds))
}

// chart draws the trips per day as bars.
func chart(pdf *fpdf.Fpdf, t words, days []report.DayCount) {
	if len(days) == 0 {
		return
	}
	if pdf.GetY()+chartH+12 > 297-margin {
		pdf.AddPage()
	}
	pdf.Ln(2)
	most := 1
	for _, d := range days {
		most = max(most, d.Count)
	}
	pdf.SetFont("go", "B", 9)
	pdf.CellFormat(width/2, 5, t.tripsPerDayChart, "", 0, "L", false, 0, "")
	pdf.SetFont("go", "", 7)
	pdf.CellFormat(width/2, 5, "max "+fmt.Sprint(most), "", 1, "R", false, 0, "")
	top := pdf.GetY()
	bw := width / float64(len(days))
	pdf.SetDrawColor(160, 160, 160)
	pdf.SetLineWidth(0.2)
	pdf.Line(margin, top+chartH, margin+width, top+chartH)
	pdf.SetFillColor(58, 110, 165)
	pdf.SetFont("go", "", 6)
	for i, d := range days {
		h := chartH * float64(d.Count) / float64(most)
		x := margin + float64(i)*bw
		if h > 0 {
			pdf.Rect(x+bw*0.15, top+chartH-h, bw*0.7, h, "F")
		}
		pdf.SetXY(x, top+chartH+0.5)
		pdf.CellFormat(bw, 3, strings.TrimLeft(d.Day[8:], "0"), "", 0, "C", false, 0, "")
	}
	pdf.SetY(top + chartH + 5)
}
