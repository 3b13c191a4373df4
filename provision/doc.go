// Package provision takes a cabin's first-boot settings from the SD card's
// boot partition. An installer (or the factory) drops palier.yaml there,
// which any laptop can write; Run moves its identity and broker settings
// into the agent config, its secrets into root-owned files beside it, and
// scrubs them from the boot partition, which is FAT: no permissions,
// readable by whoever holds the card.
//
//   - File is the boot partition's palier.yaml; Parse decodes and checks it
//     strictly. A wrong field is a *configfile.FieldError (errors.As) inside
//     an error naming the file.
//   - Run(ctx, Options) does the provisioning once and is idempotent: its
//     Result says whether there was nothing to do (NoFile, AlreadyDone),
//     whether it provisioned (Done) or finished a run a power cut stopped
//     (Finished), and which files it wrote. Options default to the paths of
//     an installed agent (DefaultBootFile, /etc/palier/agent.yaml).
//
// cmd/agent's provision command owns the flags and what the installer reads.
package provision
