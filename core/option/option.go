// Package option keeps kessai's named settings in the options table, one value per name, as
// WordPress keeps wp_options: the package whose setting it is names it and reads and writes it
// through here, so that the table has one writer however many packages keep settings in it.
package option

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

type row struct {
	Name      string `gorm:"primaryKey"`
	Value     string
	UpdatedAt time.Time
}

func (row) TableName() string { return "options" }

// Value is one named setting.
type Value struct {
	Name  string
	Value string
}

// Get returns the values saved under names; a name never saved is absent from the map.
func Get(ctx context.Context, db *gorm.DB, names ...string) (map[string]string, error) {
	var rows []row
	if err := db.WithContext(ctx).Where("name IN ?", names).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("options %v: %w", names, err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.Name] = r.Value
	}
	return out, nil
}

// Set saves values in tx, each replacing what its name held, in one statement.
func Set(ctx context.Context, tx *gorm.DB, values ...Value) error {
	if len(values) == 0 {
		return nil
	}
	now := tx.NowFunc()
	rows := make([]row, len(values))
	for i, v := range values {
		rows[i] = row{Name: v.Name, Value: v.Value, UpdatedAt: now}
	}
	err := tx.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}},
		DoUpdates: clause.AssignmentColumns([]string{"value", "updated_at"})}).Create(&rows).Error
	if err != nil {
		return fmt.Errorf("save options: %w", err)
	}
	return nil
}

// Delete forgets names in tx; a name never saved is no error.
func Delete(ctx context.Context, tx *gorm.DB, names ...string) error {
	if err := tx.WithContext(ctx).Where("name IN ?", names).Delete(&row{}).Error; err != nil {
		return fmt.Errorf("delete options %v: %w", names, err)
	}
	return nil
}
