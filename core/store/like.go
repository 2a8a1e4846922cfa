package store

import (
	"strings"

	"gorm.io/gorm/clause"
)

// Contains is the condition "column holds s", for every LIKE kessai asks: s matches as
// written, its %, _, ! and \ included, on MySQL and on SQLite alike. The pattern names its
// escape character, '!' (SQLite has none by default, a MySQL pattern's is the backslash, and
// the two read a backslash in a string literal differently). clause.Not(Contains(…)) is
// column NOT LIKE …, and clause.Or combines several.
func Contains(column, s string) clause.Expression {
	return contains{column: column, pattern: "%" + likeEscaper.Replace(s) + "%"}
}

var likeEscaper = strings.NewReplacer(`!`, `!!`, `%`, `!%`, `_`, `!_`)

// contains builds itself, rather than being a clause.Expr, so that clause.Not writes NOT LIKE:
// "NOT column LIKE …" would depend on MySQL's HIGH_NOT_PRECEDENCE.
type contains struct{ column, pattern string }

var _ clause.NegationExpressionBuilder = contains{}

func (c contains) Build(b clause.Builder)         { c.build(b, " LIKE ") }
func (c contains) NegationBuild(b clause.Builder) { c.build(b, " NOT LIKE ") }

func (c contains) build(b clause.Builder, op string) {
	b.WriteString(c.column) // a column name from code, never from a request
	b.WriteString(op)
	b.AddVar(b, c.pattern)
	b.WriteString(" ESCAPE '!'")
}
