// Package planted writes a table it does not own, in each of the ways GORM writes, so that the
// owners check has a violation to catch. Only the check's own test imports it.
package planted

import (
	"time"

	"gorm.io/gorm"
)

// CreateShop inserts a shop with GORM's Create; shops belong to core/shop.
func CreateShop(db *gorm.DB, name string) error {
	return db.Table("shops").Create(map[string]any{"name": name, "created_at": time.Now().UTC()}).Error
}

// RenameShop updates shops twice from one line, with raw SQL.
func RenameShop(db *gorm.DB, from, to string) error {
	for range 2 {
		if err := db.Exec("UPDATE `shops` SET name = ? WHERE name = ?", to, from).Error; err != nil {
			return err
		}
	}
	return nil
}

// RenameShopAliased updates shops through an aliased table.
func RenameShopAliased(db *gorm.DB, from, to string) error {
	return db.Table("shops AS s").Where("s.name = ?", from).Update("name", to).Error
}

// DeleteShop deletes a shop with raw SQL.
func DeleteShop(db *gorm.DB, name string) error {
	return db.Exec("DELETE FROM shops WHERE name = ?", name).Error
}

// WriteNotes writes a table the migrations do not create.
func WriteNotes(db *gorm.DB) error {
	return db.Exec("INSERT INTO notes (id) VALUES (1)").Error
}
