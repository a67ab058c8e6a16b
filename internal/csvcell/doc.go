// Package csvcell defends CSV files against formula injection: a cell that a
// spreadsheet (Excel, LibreOffice, Google Sheets) could take for a formula
// gets a leading single quote when written, which imports remove again.
// Package anpi (survey exports) and package anpi/dircsv (directory imports
// and exports) share it, so both escape alike.
package csvcell
