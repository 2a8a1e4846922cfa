// Package planted writes and reads a table it does not own, in each of the ways GORM writes and
// reads, so that the owners check has a violation to catch. Only the check's own test imports
// it.
package planted

import (
	"time"

	"gorm.io/gorm"

	"github.com/kessai/kessai/core/store"
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

// CountShops reads shops with a plain SELECT.
func CountShops(db *gorm.DB) (n int64, err error) {
	err = db.Table("shops").Count(&n).Error
	return n, err
}

// NotesOfShops reads shops through a JOIN from notes, a table without an owner.
func NotesOfShops(db *gorm.DB) (ids []int64, err error) {
	err = db.Table("notes AS n").Joins("JOIN `shops` AS s ON s.id = n.id").Pluck("n.id", &ids).Error
	return ids, err
}

// NotesOfShopsIn reads shops in a subquery of a query of notes.
func NotesOfShopsIn(db *gorm.DB) (ids []int64, err error) {
	err = db.Table("notes").Where("id IN (?)", db.Table("shops").Select("id")).Pluck("id", &ids).Error
	return ids, err
}

// ShopNames reads shops with raw SQL, after a comma in the FROM list.
func ShopNames(db *gorm.DB) (names []string, err error) {
	err = db.Raw("SELECT s.name FROM notes n, `shops` s WHERE s.id = n.id").Scan(&names).Error
	return names, err
}

// TouchNotesOfShops reads shops in the subquery of an UPDATE of notes.
func TouchNotesOfShops(db *gorm.DB) error {
	return db.Exec("UPDATE notes SET id = id WHERE id IN (SELECT id FROM shops)").Error
}

// ShopIDs hands out the ids of the shops as a subquery, as an owner hands its rows to the
// packages that filter by them; planted owns no shops, so the read is still its own.
func ShopIDs(db *gorm.DB) *gorm.DB {
	return store.Subquery(db.Table("shops").Select("id"))
}

// NotesIn reads notes in the ids a subquery another package handed it.
func NotesIn(db *gorm.DB, ids *gorm.DB) (n int64, err error) {
	err = db.Table("notes").Where("id IN (?)", ids).Count(&n).Error
	return n, err
}
