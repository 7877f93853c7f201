// Package appres resolves what to run: an app's root store path and the program inside it.
package appres
