// Package reportfiles keeps the monthly report PDFs that the report job
// (receiver report pdf) renders and the API serves: in a directory, for
// one receiver with its state on a disk, or in an S3-compatible bucket,
// which every receiver replica and the Kubernetes CronJob that renders
// them share. Files are named {site}/{YYYY-MM}.{lang}.pdf
// (report.PDFPath) under the directory or the bucket's prefix, and each
// is written whole or not at all.
package reportfiles
