package main

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"
)

// The checks of command arguments and flag values. pflag refuses what does
// not parse; these refuse what parses but cannot be meant, such as a negative
// duration (which would otherwise mean "forever") or an empty key. Each
// error names the flag or argument; command.run adds the synopsis.

// all runs the checks in order and returns the first error.
func all(checks ...func(*pflag.FlagSet, []string) error) func(*pflag.FlagSet, []string) error {
	return func(fs *pflag.FlagSet, args []string) error {
		for _, c := range checks {
			if err := c(fs, args); err != nil {
				return err
			}
		}
		return nil
	}
}

// nonEmptyArgs refuses an empty string as any of the first len(names)
// arguments: no key is empty, and an empty path cannot be locked.
func nonEmptyArgs(names ...string) func(*pflag.FlagSet, []string) error {
	return func(_ *pflag.FlagSet, args []string) error {
		for i, name := range names {
			if i < len(args) && args[i] == "" {
				return fmt.Errorf("%s must not be empty", name)
			}
		}
		return nil
	}
}

// nonNegativeInt refuses a negative --flag; zero means zeroMeans.
func nonNegativeInt(flag, zeroMeans string) func(*pflag.FlagSet, []string) error {
	return func(fs *pflag.FlagSet, _ []string) error {
		n, err := fs.GetInt(flag)
		if err != nil {
			return err
		}
		if n < 0 {
			return fmt.Errorf("--%s=%d must be 0 (%s) or more", flag, n, zeroMeans)
		}
		return nil
	}
}

// nonNegativeDuration refuses a negative --flag; zero means zeroMeans.
func nonNegativeDuration(flag, zeroMeans string) func(*pflag.FlagSet, []string) error {
	return func(fs *pflag.FlagSet, _ []string) error {
		d, err := fs.GetDuration(flag)
		if err != nil {
			return err
		}
		if d < 0 {
			return fmt.Errorf("--%s=%s must be 0 (%s) or positive, e.g. --%s=10s", flag, d, zeroMeans, flag)
		}
		return nil
	}
}

// checkDelete accepts "delete KEY", "delete --prefix PREFIX" with PREFIX not
// empty, and "delete --all" (also spelled `delete --all --prefix ""`). An
// empty prefix matches every key, so wiping the store takes the explicit
// --all, never an empty string that may come from an unset shell variable.
func checkDelete(fs *pflag.FlagSet, args []string) error {
	prefix, _ := fs.GetBool("prefix")
	everything, _ := fs.GetBool("all")
	arg, hasArg := "", len(args) == 1
	if hasArg {
		arg = args[0]
	}
	switch {
	case everything && arg != "":
		return fmt.Errorf("--all deletes every key and takes no KEY or PREFIX (got %q); "+
			"to delete under a prefix use --prefix %q alone", arg, arg)
	case everything && hasArg && !prefix:
		return errors.New("--all takes no KEY")
	case everything:
		return nil
	case !hasArg && prefix:
		return errors.New("--prefix needs a PREFIX")
	case !hasArg:
		return errors.New("needs a KEY, --prefix PREFIX or --all")
	case arg == "" && prefix:
		return errors.New(`--prefix "" would delete every key in the store; ` +
			"to do that, say --all")
	case arg == "":
		return errors.New("KEY must not be empty")
	}
	return nil
}
