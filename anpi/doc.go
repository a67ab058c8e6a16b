// Package anpi models 安否確認 (employee safety confirmation) for companies in
// Japan: the directory, contacts with privacy, roles, forms, templates,
// surveys, deliveries, responses and tallies, and the Store contract that
// persists them.
//
// # Directory
//
// A User has an employee code, names, a work email set by administrators,
// several departments, contact groups, a job title and several Regions (JMA
// codes: earthquake areas, tsunami regions, warning municipalities).
// Departments form a tree of unlimited depth; DepartmentTree answers
// ancestor, descendant and subtree questions and validates moves.
//
// # Privacy
//
// Contacts a user registers himself (private emails, app push tokens, LINE,
// phone, family) are visible only to him. Administrators get an
// AdminUserView, whose ContactStatus values have no address field at all: a
// private address cannot leak through them, by construction.
//
// # Permissions
//
// Three roles (Manager, CrisisManager, SystemAdmin), each company-wide or
// over a department subtree. Authorizer.Authorize is the one function that
// answers "may actor A do action X on target T".
//
// # Surveys
//
// A Survey (一斉送信) asks recipients a Form; a Template renders its text per
// channel (long for email, short for push and LINE, at most 70 characters
// for SMS) in Japanese or English. Deliveries are rows of a claimable outbox;
// a Response is a recipient's current answer; a Tally counts them, updated
// in the same transaction as each answer.
//
// # Errors
//
// Every error is classified by Code: NotFound, AlreadyExists,
// InvalidArgument, PermissionDenied, FailedPrecondition, Unavailable or
// Internal.
package anpi
