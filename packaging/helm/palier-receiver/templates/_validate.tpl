{{- /*
palier-receiver.validate refuses, with helm's fail, a configuration that
cannot run as written: the chart has two modes (values.yaml, top) and
everything else loses data or fails at run time in ways a rollout does
not show (a second replica answering 404 for media it never received,
Multi-Attach errors, a database on an emptyDir).

It reads the receiver's own keys (config.store.driver, config.media.s3):
should the receiver rename them, change the three lines that read them.
*/ -}}
{{- define "palier-receiver.validate" -}}
{{- $v := .Values -}}
{{- $replicas := int $v.replicaCount -}}
{{- $store := $v.config.store | default dict -}}
{{- $driver := $store.driver | default "sqlite" -}}
{{- $s3 := include "palier-receiver.s3" . | fromJson -}}
{{- $natsURL := ($v.config.nats | default dict).url -}}
{{- $stateDir := $v.config.state_dir | default "/var/lib/palier-receiver" -}}
{{- $secretDir := "/etc/palier/secrets/" -}}

{{- if gt $replicas 1 -}}
{{- if ne $driver "postgres" -}}
{{- fail (printf "replicaCount is %d with config.store.driver %q: an SQLite database is one pod's file, each replica would store its own share of the events (want config.store.driver: postgres with config.store.url, or replicaCount: 1)" $replicas $driver) -}}
{{- end -}}
{{- if not $s3.bucket -}}
{{- fail (printf "replicaCount is %d with local media (config.media.s3.bucket unset): an upload lands on one pod and the others answer 404 for it (want config.media.s3, or replicaCount: 1)" $replicas) -}}
{{- end -}}
{{- if $v.persistence.enabled -}}
{{- fail (printf "replicaCount is %d with persistence.enabled: the volume is ReadWriteOnce, pods on other nodes cannot attach it (Multi-Attach error), and several receivers keep nothing on disk (want persistence.enabled: false)" $replicas) -}}
{{- end -}}
{{- if not $natsURL -}}
{{- fail (printf "replicaCount is %d without config.nats.url: each replica would embed a NATS server of its own (want the NATS cluster's url)" $replicas) -}}
{{- end -}}
{{- end -}}

{{- if eq $driver "sqlite" -}}
{{- if not $v.persistence.enabled -}}
{{- fail "config.store.driver is sqlite without persistence.enabled: the database would live on an emptyDir and every event would be lost at the next restart (want persistence.enabled: true, or config.store.driver: postgres with config.media.s3)" -}}
{{- end -}}
{{- with $store.path -}}
{{- if not (hasPrefix (printf "%s/" (trimSuffix "/" $stateDir)) .) -}}
{{- fail (printf "config.store.path %q is outside state_dir %q: only state_dir is on the volume (want a path under it, or no path)" . $stateDir) -}}
{{- end -}}
{{- end -}}
{{- else if eq $driver "postgres" -}}
{{- if $v.persistence.enabled -}}
{{- fail "persistence.enabled with config.store.driver postgres: the volume is for the one-receiver SQLite mode only; with PostgreSQL, media go to config.media.s3 and nothing needs a volume (want persistence.enabled: false)" -}}
{{- end -}}
{{- if not $s3.bucket -}}
{{- fail "config.store.driver is postgres with local media (config.media.s3.bucket unset): without a volume (SQLite mode only) uploads would live on an emptyDir and be lost at the next restart (want config.media.s3)" -}}
{{- end -}}
{{- else -}}
{{- fail (printf "config.store.driver %q: want sqlite (one receiver) or postgres (several)" $driver) -}}
{{- end -}}

{{- $reportsS3 := include "palier-receiver.reportsS3" . | fromJson -}}
{{- if and $v.reportJob.enabled (eq $driver "postgres") (not $reportsS3.bucket) -}}
{{- fail "reportJob.enabled with config.store.driver postgres and no config.reports.s3: the job's PDFs would be written to its own emptyDir and lost, and no receiver could serve them (want config.reports.s3, or reportJob.enabled: false)" -}}
{{- end -}}

{{- range $name, $b := dict "media" $s3 "reports" $reportsS3 -}}
{{- if $b.bucket -}}
{{- if not $b.endpoint -}}
{{- fail (printf "config.%s.s3.endpoint is empty (want https://host of the S3-compatible storage)" $name) -}}
{{- end -}}
{{- range $key := list "access_key_file" "secret_key_file" -}}
{{- $file := get $b $key -}}
{{- if not (hasPrefix $secretDir $file) -}}
{{- fail (printf "config.%s.s3.%s %q is not under %s, where the Secret is mounted (want %s<key>)" $name $key $file $secretDir $secretDir) -}}
{{- end -}}
{{- if and (not $v.existingSecret) (not (hasKey $v.secretFiles (trimPrefix $secretDir $file))) -}}
{{- fail (printf "config.%s.s3.%s is %q but secretFiles has no %q (want that key in secretFiles, or existingSecret)" $name $key $file (trimPrefix $secretDir $file)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- /*
palier-receiver.reportsS3 is config.reports.s3 as JSON, {} when unset.
*/ -}}
{{- define "palier-receiver.reportsS3" -}}
{{- toJson (((.Values.config.reports | default dict).s3) | default dict) -}}
{{- end -}}

{{- /*
palier-receiver.s3Egress is the egress rules to the object storage of
config.media.s3 and config.reports.s3 (one per distinct port).
*/ -}}
{{- define "palier-receiver.s3Egress" -}}
{{- $ports := list -}}
{{- range $b := list (include "palier-receiver.s3" . | fromJson) (include "palier-receiver.reportsS3" . | fromJson) -}}
{{- if $b.bucket -}}
{{- $ports = append $ports (include "palier-receiver.endpointPort" $b.endpoint) -}}
{{- end -}}
{{- end -}}
{{- range $p := $ports | uniq }}
# Object storage (config.media.s3, config.reports.s3).
- ports:
    - {port: {{ $p }}, protocol: TCP}
{{- end -}}
{{- end -}}

{{- /*
palier-receiver.s3 is config.media.s3 as JSON, {} when unset (or null).
*/ -}}
{{- define "palier-receiver.s3" -}}
{{- toJson (((.Values.config.media | default dict).s3) | default dict) -}}
{{- end -}}

{{- /*
palier-receiver.endpointPort is the TCP port of an http(s) URL.
*/ -}}
{{- define "palier-receiver.endpointPort" -}}
{{- $u := urlParse (. | default "") -}}
{{- $hostPort := splitList ":" $u.host -}}
{{- if gt (len $hostPort) 1 -}}
{{- last $hostPort -}}
{{- else if eq $u.scheme "http" -}}
80
{{- else -}}
443
{{- end -}}
{{- end -}}
