package profiles

import (
	"maps"
	"strconv"
	"strings"
)

// Merge returns the profile that results from applying child on top of
// parent. Neither input is changed. The rules, applied field by field:
//
//   - Scalars (description, app.package, app.command, home.mode,
//     home.size, home.nr_inodes, network.mode, seccomp.policy, seccomp.action,
//     seccomp.unsafe, the
//     limits, the sockets and the seccomp allow_* switches): the child's
//     value wins when the child sets it; otherwise the parent's is kept.
//   - network.unsafe goes with network.mode: a child that sets
//     network.mode replaces the parent's network.unsafe with its own,
//     or with none, so that a reason given for a parent's mode = "host"
//     never covers a child's. A child that sets network.unsafe without
//     network.mode keeps it here, and Validate refuses it (the reason
//     must sit next to the mode = "host" it acknowledges).
//   - app.args is replaced as a whole by the child's list when the child
//     sets it (arguments only make sense together with their command).
//   - Lists that grant or add things are appended, parent first, with
//     nothing dropped or reordered: filesystem.ro,
//     filesystem.rw, filesystem.bind, filesystem.tmpfs, env.pass,
//     app.packages, namespaces.share, seccomp.allow, seccomp.deny,
//     devices.allow, dbus.talk, dbus.own, dbus.see. A child can therefore
//     add grants but not remove a parent's; to drop one, do not extend
//     that parent.
//   - env.set is merged key by key; the child's value wins for a name set
//     by both.
//   - Name, Source, Version and Extends are the child's; Chain is the
//     child's source followed by the parent's chain.
//   - Pos holds both profiles' positions (each Pos names its own file);
//     list indexes of the child's entries are shifted past the parent's so
//     that errors still point at the right line.
//
// With several parents (extends = ["a", "b"]) Load merges a, then b on
// top, then the child on top of that.
func Merge(parent, child *Profile) *Profile {
	out := &Profile{
		Name:        child.Name,
		Source:      child.Source,
		Chain:       append([]string{child.Source}, parent.Chain...),
		Version:     child.Version,
		Extends:     append([]string(nil), child.Extends...),
		Description: pick(child.Description, parent.Description),
		Pos:         map[string]Pos{},
	}
	maps.Copy(out.Pos, parent.Pos)
	if child.App.Args != nil {
		// The child's args replace the parent's, and so do their positions.
		for k := range out.Pos {
			if k == "app.args" || strings.HasPrefix(k, "app.args[") {
				delete(out.Pos, k)
			}
		}
	}

	// Record the list offsets before appending, for shifting child Pos.
	shift := map[string]int{
		"filesystem.ro": len(parent.Filesystem.RO), "filesystem.rw": len(parent.Filesystem.RW),
		"filesystem.bind": len(parent.Filesystem.Bind), "filesystem.tmpfs": len(parent.Filesystem.Tmpfs),
		"env.pass": len(parent.Env.Pass), "app.packages": len(parent.App.Packages),
		"namespaces.share": len(parent.Namespaces.Share), "seccomp.allow": len(parent.Seccomp.Allow),
		"seccomp.deny": len(parent.Seccomp.Deny), "devices.allow": len(parent.Devices.Allow),
		"dbus.talk": len(parent.DBus.Talk), "dbus.own": len(parent.DBus.Own), "dbus.see": len(parent.DBus.See),
	}
	for k, v := range child.Pos {
		out.Pos[shiftKey(k, shift)] = v
	}
	if child.Network.Mode != "" && !child.has("network.unsafe") {
		// The parent's reason was for the parent's mode, not this one.
		delete(out.Pos, "network.unsafe")
	}

	out.App = App{
		Package:  pick(child.App.Package, parent.App.Package),
		Command:  pick(child.App.Command, parent.App.Command),
		Args:     parent.App.Args,
		Packages: concat(parent.App.Packages, child.App.Packages),
	}
	if child.App.Args != nil {
		out.App.Args = child.App.Args
	}
	out.App.Args = append([]string(nil), out.App.Args...)

	out.Filesystem = Filesystem{
		RO:    concat(parent.Filesystem.RO, child.Filesystem.RO),
		RW:    concat(parent.Filesystem.RW, child.Filesystem.RW),
		Bind:  append(append([]Bind(nil), parent.Filesystem.Bind...), child.Filesystem.Bind...),
		Tmpfs: append(append([]Tmpfs(nil), parent.Filesystem.Tmpfs...), child.Filesystem.Tmpfs...),
	}
	out.Home = Home{
		Mode:     HomeMode(pick(string(child.Home.Mode), string(parent.Home.Mode))),
		Size:     pick(child.Home.Size, parent.Home.Size),
		NrInodes: pickPtr(child.Home.NrInodes, parent.Home.NrInodes),
	}
	out.Env.Pass = concat(parent.Env.Pass, child.Env.Pass)
	if parent.Env.Set != nil || child.Env.Set != nil {
		out.Env.Set = map[string]string{}
		maps.Copy(out.Env.Set, parent.Env.Set)
		maps.Copy(out.Env.Set, child.Env.Set)
	}
	out.Network = parent.Network
	switch {
	case child.Network.Mode != "":
		// Mode and its acknowledgement come from the same profile
		// (security suite case 53: host networking is an X11/D-Bus
		// exposure that each profile choosing it must acknowledge).
		out.Network = child.Network
	case child.Network.Unsafe != "" || child.has("network.unsafe"):
		out.Network.Unsafe = child.Network.Unsafe
	}
	out.Namespaces.Share = concat(parent.Namespaces.Share, child.Namespaces.Share)

	ps, cs := parent.Seccomp, child.Seccomp
	out.Seccomp = Seccomp{
		Policy:         pick(cs.Policy, ps.Policy),
		Allow:          concat(ps.Allow, cs.Allow),
		Deny:           concat(ps.Deny, cs.Deny),
		Unsafe:         pick(cs.Unsafe, ps.Unsafe),
		AllowPtrace:    pickPtr(cs.AllowPtrace, ps.AllowPtrace),
		AllowPerf:      pickPtr(cs.AllowPerf, ps.AllowPerf),
		AllowUserns:    pickPtr(cs.AllowUserns, ps.AllowUserns),
		AllowMultiarch: pickPtr(cs.AllowMultiarch, ps.AllowMultiarch),
		Action:         pick(cs.Action, ps.Action),
	}
	pl, cl := parent.Limits, child.Limits
	out.Limits = Limits{
		Memory:     pick(cl.Memory, pl.Memory),
		MemorySwap: pick(cl.MemorySwap, pl.MemorySwap),
		CPU:        pickPtr(cl.CPU, pl.CPU),
		CPUWeight:  pickPtr(cl.CPUWeight, pl.CPUWeight),
		Pids:       pickPtr(cl.Pids, pl.Pids),
		IOWeight:   pickPtr(cl.IOWeight, pl.IOWeight),
		Nofile:     pickPtr(cl.Nofile, pl.Nofile),
		Core:       pickPtr(cl.Core, pl.Core),
	}
	pk, ck := parent.Sockets, child.Sockets
	out.Sockets = Sockets{
		Wayland:    pickPtr(ck.Wayland, pk.Wayland),
		X11:        pickPtr(ck.X11, pk.X11),
		Pulseaudio: pickPtr(ck.Pulseaudio, pk.Pulseaudio),
		Pipewire:   pickPtr(ck.Pipewire, pk.Pipewire),
	}
	out.Devices.Allow = concat(parent.Devices.Allow, child.Devices.Allow)
	out.DBus = DBus{
		Talk: concat(parent.DBus.Talk, child.DBus.Talk),
		Own:  concat(parent.DBus.Own, child.DBus.Own),
		See:  concat(parent.DBus.See, child.DBus.See),
	}
	return out
}

func pick(child, parent string) string {
	if child != "" {
		return child
	}
	return parent
}

func pickPtr[T any](child, parent *T) *T {
	if child != nil {
		v := *child
		return &v
	}
	if parent != nil {
		v := *parent
		return &v
	}
	return nil
}

// concat returns a new slice holding a then b. Nothing is dropped, so a
// child entry's index is its own index plus len(a), which shiftKey relies
// on.
func concat(a, b []string) []string {
	if a == nil && b == nil {
		return nil
	}
	return append(append([]string(nil), a...), b...)
}

// shiftKey moves a child's list index past the parent's entries:
// "filesystem.bind[0].source" becomes "filesystem.bind[3].source" when the
// parent has three binds.
func shiftKey(k string, shift map[string]int) string {
	open := strings.IndexByte(k, '[')
	if open < 0 {
		return k
	}
	n, ok := shift[k[:open]]
	if !ok || n == 0 {
		return k
	}
	end := strings.IndexByte(k[open:], ']')
	if end < 0 {
		return k
	}
	i, err := strconv.Atoi(k[open+1 : open+end])
	if err != nil {
		return k
	}
	return k[:open] + "[" + strconv.Itoa(i+n) + "]" + k[open+end+1:]
}
