// Package migrations holds kessai's versioned schema, one DDL statement per step and one folder
// per SQL dialect, embedded in the binary so that a deployed kessaid can migrate its own database.
//
// Steps are forward-only: a released step is never edited; a change is a new step. MySQL cannot
// roll back DDL, so one statement per step means a failed step leaves nothing half-applied.
package migrations

import "embed"

// FS holds mysql/NNNN_name.sql and sqlite/NNNN_name.sql.
//
//go:embed mysql/*.sql sqlite/*.sql
var FS embed.FS
