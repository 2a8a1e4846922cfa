package module

// RunAs exposes runAs to the tests, with the effective uid to pretend kessaid has.
var RunAs = runAs
