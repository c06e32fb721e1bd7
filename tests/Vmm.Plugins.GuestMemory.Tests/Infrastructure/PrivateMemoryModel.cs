using System.Buffers.Binary;
using CsCheck;
using Vmm.Abstractions;
using Vmm.Core.Engine.Ops;
using Vmm.Core.Machine;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Plugins.GuestMemory.Tests.Infrastructure;

/// <summary>The steps of a random sequence (docs/scenario-format.md ops, as the model drives them).</summary>
public enum OpKind
{
    GuestWrite,
    GuestRead,
    ConvertShared,
    ConvertPrivate,
    HostRead,
    HostWrite,
    Gup,
    ProcMemRead,
    Pread,
    SecondMappingRead,
    PunchHole,
    Fork,
    Exit,
    MemoryError,
}

/// <summary>One step: <see cref="Flag"/> is the KVM-only GUP flag (allow-poisoned, FOLL_GUEST) for Gup; <see cref="Write"/> FOLL_WRITE.</summary>
public readonly record struct Op(OpKind Kind, bool Td, int Page, int Line, bool Flag, bool Write)
{
    public override string ToString() => Kind switch
    {
        OpKind.Fork or OpKind.Exit => Kind.ToString(),
        OpKind.Gup => $"Gup({(Td ? "td" : "vm")} p{Page}{(Flag ? " KVM-FLAG" : "")}{(Write ? " WRITE" : "")})",
        _ => $"{Kind}({(Td ? "td" : "vm")} p{Page} l{Line})",
    };
}

/// <summary>What a design promises for a VMM touch of a page that is private, and how to tell a frame the VMM must never map.</summary>
internal interface IDesignRules
{
    string Name { get; }

    /// <summary>The machine: a protected VM "td" and an unprotected VM "vm", each <see cref="PrivateMemoryModel.VmPages"/> pages.</summary>
    TestMachine Create();

    /// <summary>The td's gfns start shared (GUEST_MEMFD_FLAG_INIT_SHARED).</summary>
    bool StartsShared { get; }

    /// <summary>A frame no present VMM PTE may map, given the kernel state.</summary>
    bool MustNotBeMapped(HostKernel kernel, Pfn pfn);

    /// <summary>Checks the outcome of a VMM load/store/GUP/procmem read of a page the model says is private; null when fine, else why not.</summary>
    string? CheckPrivateTouch(OpKind kind, bool kvmFlag, Outcome outcome);
}

/// <summary>
/// The model-based run shared by the guest-memfd and guest-only tests: random sequences of guest accesses,
/// conversions, VMM reads and writes, GUP, /proc/pid/mem and read(2), a second mapping, punch hole, fork, exit and
/// memory errors, checked after every step and after teardown:
/// <list type="bullet">
/// <item>nothing ends the machine or kills a guest (host-panic, shutdown, guest-killed);</item>
/// <item>no VMM read (load, /proc/pid/mem, read(2), a second mapping, a forked child's load) returns bytes the guest
/// wrote privately into a page that has stayed private since, and each design's own answer to a private touch holds;</item>
/// <item>no present PTE of any process maps a frame the design keeps from the VMM (a PageGuest frame, a private
/// guest_memfd page);</item>
/// <item>reference, map and pin counts never go negative; after vm.destroy and exit only frames a memory error hit
/// stay allocated, and the rmap is empty.</item>
/// </list>
/// The guest behaves: it accesses a page privately while it is private and shared while it is shared.
/// </summary>
internal sealed class PrivateMemoryModel
{
    public const int VmPages = 16;
    public const int PagesUsed = 4;
    private const int MaxChildren = 2;
    private const ulong Page = PageGeometry.PageSize;

    private readonly IDesignRules _rules;
    private readonly TestMachine _m;
    private readonly bool[] _shared = new bool[PagesUsed];
    private readonly Dictionary<int, HashSet<ulong>> _secrets = [];
    private readonly List<Process> _children = [];
    private ulong? _secondMapping;
    private bool _exited;
    private uint _writes;
    private int _step;
    private Op _op;

    private PrivateMemoryModel(IDesignRules rules)
    {
        _rules = rules;
        _m = rules.Create();
        if (rules.StartsShared) Array.Fill(_shared, true);
    }

    private HostKernel Kernel => _m.Kernel;

    public static readonly Gen<Op> GenOp = Gen.Select(
        Gen.Frequency(
            (6, Gen.Const(OpKind.GuestWrite)), (5, Gen.Const(OpKind.GuestRead)), (3, Gen.Const(OpKind.ConvertShared)),
            (3, Gen.Const(OpKind.ConvertPrivate)), (5, Gen.Const(OpKind.HostRead)), (3, Gen.Const(OpKind.HostWrite)),
            (3, Gen.Const(OpKind.Gup)), (2, Gen.Const(OpKind.ProcMemRead)), (2, Gen.Const(OpKind.Pread)),
            (2, Gen.Const(OpKind.SecondMappingRead)), (2, Gen.Const(OpKind.PunchHole)), (1, Gen.Const(OpKind.Fork)),
            (1, Gen.Const(OpKind.Exit)), (2, Gen.Const(OpKind.MemoryError))),
        Gen.Frequency((4, Gen.Const(true)), (1, Gen.Const(false))),
        Gen.Frequency((4, Gen.Const(0)), (2, Gen.Const(1)), (1, Gen.Const(2)), (1, Gen.Const(3))),
        Gen.Int[0, 1],
        Gen.Bool,
        Gen.Bool,
        (kind, td, page, line, flag, write) => new Op(kind, td, page, line, flag, write));

    public static readonly Gen<Op[]> GenOps = GenOp.Array[1, 40];

    /// <summary>Runs <paramref name="sequences"/> seeded sequences; a failure is handed to CsCheck, which shrinks it from that seed.</summary>
    public static void Check(IDesignRules rules, uint stream, int sequences)
    {
        void Run(Op[] ops) => new PrivateMemoryModel(rules).Execute(ops);
        var pcg = new PCG(stream, seed: 20210521);
        for (var i = 0; i < sequences; i++)
        {
            var state = pcg.State;
            var ops = GenOps.Generate(pcg, null, out _);
            try
            {
                Run(ops);
            }
            catch (ModelException)
            {
                GenOps.Sample(Run, seed: pcg.ToString(state), iter: 2000, threads: 1, print: ops => string.Join(", ", ops));
                throw;
            }
        }
    }

    public void Execute(Op[] ops)
    {
        foreach (var op in ops)
        {
            _op = op;
            Apply(op);
            CheckInvariants();
            _step++;
        }
        _op = default;
        TearDown();
    }

    private static ulong Gpa(int page, int line = 0) => (ulong)page * Page + (ulong)line * PageGeometry.LineSize;

    private bool PrivateNow(Op op) => op.Td && !_shared[op.Page];

    private void Apply(Op op)
    {
        var vm = op.Td ? "td" : "vm";
        var gpa = Gpa(op.Page, op.Line);
        switch (op.Kind)
        {
            case OpKind.GuestWrite:
            {
                var secret = PrivateNow(op);
                var data = secret ? Marker(op) : PatternBytes(0x22);
                var outcome = _m.Run("guest.write", vm, gpa, data: data, shared: op.Td && !secret);
                RequireAllowed(outcome);
                if (secret && outcome.Kind == OutcomeKind.Ok)
                {
                    if (!_secrets.TryGetValue(op.Page, out var set)) _secrets[op.Page] = set = [];
                    set.Add(BinaryPrimitives.ReadUInt64LittleEndian(data));
                }
                break;
            }
            case OpKind.GuestRead:
                RequireAllowed(_m.Run("guest.read", vm, gpa, len: PageGeometry.LineSize, shared: op.Td && !PrivateNow(op)));
                break;
            case OpKind.ConvertShared:
            case OpKind.ConvertPrivate:
            {
                if (!op.Td) break;
                var toPrivate = op.Kind == OpKind.ConvertPrivate;
                var outcome = _m.Run("guest.convert", vm, Gpa(op.Page), size: Page, to: toPrivate ? "private" : "shared");
                RequireAllowed(outcome);
                // The VMM answers the conversion; once it has exited it cannot remap anything (guest-only: ESRCH).
                Require(outcome.Kind == OutcomeKind.Ok || (_exited && outcome.Kind == OutcomeKind.Errno), $"guest.convert gave {outcome}");
                if (outcome.Kind != OutcomeKind.Ok) break;
                _shared[op.Page] = !toPrivate;
                if (!toPrivate) _secrets.Remove(op.Page); // the guest chose to show it
                break;
            }
            case OpKind.HostRead:
            case OpKind.HostWrite:
            {
                var isPrivate = PrivateNow(op);
                var outcome = op.Kind == OpKind.HostRead ? _m.Run("host.read", vm, gpa, len: PageGeometry.LineSize) : _m.Run("host.write", vm, gpa, data: PatternBytes(0x11));
                RequireAllowed(outcome);
                RequireNoSecret(outcome);
                if (isPrivate && !_exited) RequireRule(op.Kind, false, outcome);
                break;
            }
            case OpKind.Gup:
            {
                var flags = (op.Flag ? GupFlags.AllowPoisoned : GupFlags.None) | (op.Write ? GupFlags.Write : GupFlags.None);
                var outcome = _m.Run("host.gup", vm, Gpa(op.Page), flags: flags);
                RequireAllowed(outcome);
                if (PrivateNow(op) && !_exited) RequireRule(OpKind.Gup, op.Flag, outcome);
                break;
            }
            case OpKind.ProcMemRead:
            {
                var outcome = _m.Run("host.procmem-read", vm, gpa, len: PageGeometry.LineSize);
                RequireAllowed(outcome);
                RequireNoSecret(outcome);
                if (PrivateNow(op) && !_exited) RequireRule(OpKind.ProcMemRead, false, outcome);
                break;
            }
            case OpKind.Pread when op.Td:
            {
                var outcome = _m.Run("host.pread", vm, offset: gpa, len: PageGeometry.LineSize);
                RequireAllowed(outcome);
                RequireNoSecret(outcome);
                break;
            }
            case OpKind.SecondMappingRead when op.Td && !_exited:
            {
                if (_secondMapping is null)
                {
                    var mapped = _m.Run("host.mmap-backing", "td", offset: 0, size: VmPages * Page);
                    RequireAllowed(mapped);
                    if (mapped.Kind != OutcomeKind.Ok) break; // guest_memfd before 6.18: ENODEV
                    _secondMapping = (ulong)mapped.Count!.Value;
                }
                var outcome = _m.Run("host.read", null, hva: _secondMapping.Value + gpa, len: PageGeometry.LineSize);
                RequireAllowed(outcome);
                RequireNoSecret(outcome);
                break;
            }
            case OpKind.PunchHole when op.Td:
            {
                var punch = new Fallocate(Page, ["PUNCH_HOLE", "KEEP_SIZE"]) { At = new StepAddress("td", Offset: Gpa(op.Page)) };
                var outcome = _m.Run(punch);
                RequireAllowed(outcome);
                Require(outcome.Kind == OutcomeKind.Ok, $"host.fallocate PUNCH_HOLE gave {outcome}");
                break;
            }
            case OpKind.Fork when !_exited && _children.Count < MaxChildren:
            {
                var before = Kernel.Processes.Count;
                var outcome = _m.Run("host.fork", null);
                Require(outcome.Kind == OutcomeKind.Ok, $"host.fork gave {outcome}");
                if (Kernel.Processes.Count > before) _children.Add(Kernel.Processes[^1]);
                break;
            }
            case OpKind.Exit when !_exited:
                Require(_m.Run("host.exit", null).Kind == OutcomeKind.Ok, "host.exit failed");
                _exited = true;
                break;
            case OpKind.MemoryError:
            {
                // Only a frame the page has (an untouched page would be populated first, which an exited VMM cannot); never the reserved zero page.
                var pfn = _m.FrameOf(Gpa(op.Page), vm);
                if (!pfn.IsValid || pfn == FrameAllocator.ZeroPage) break;
                RequireAllowed(_m.Run("hw.memory-error", vm, gpa, consumed: false));
                break;
            }
        }
        // A forked child's load of the page: its own mapping (fork copied the VMM's entries) must not show the secret either.
        foreach (var child in _children)
        {
            if (!child.Alive) continue;
            var hva = _m.VmNamed(vm).Info.HvaBase.Value + Gpa(op.Page);
            var outcome = _m.UserAccess(child, hva, new byte[PageGeometry.LineSize], write: false);
            RequireAllowed(outcome);
            RequireNoSecret(outcome);
        }
    }

    private void RequireRule(OpKind kind, bool kvmFlag, Outcome outcome)
    {
        if (_rules.CheckPrivateTouch(kind, kvmFlag, outcome) is { } problem) Fail($"{_rules.Name}: {problem}");
    }

    /// <summary>8 bytes nobody else writes: tag 0xa5, the page, a running count.</summary>
    private byte[] Marker(Op op)
    {
        var data = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(data, 0xa5UL | ((ulong)op.Page << 16) | ((ulong)++_writes << 24));
        return data;
    }

    private static byte[] PatternBytes(byte tag) => Enumerable.Repeat(tag, 8).ToArray();

    private void RequireNoSecret(Outcome outcome)
    {
        if (outcome.Kind != OutcomeKind.Ok || outcome.Data is not { } data) return;
        for (var i = 0; i + 8 <= data.Length; i += 8)
        {
            var word = BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(i, 8));
            foreach (var (page, set) in _secrets)
                if (set.Contains(word)) Fail($"the VMM read 0x{word:x16}, which the td wrote privately into page {page} (still private)");
        }
    }

    private void RequireAllowed(Outcome outcome)
    {
        Require(outcome.Kind is not (OutcomeKind.HostPanic or OutcomeKind.Shutdown or OutcomeKind.GuestKilled or OutcomeKind.NotRun),
            $"forbidden outcome {outcome} ({outcome.Reason})");
        Require(!_m.Simulation.Ended, "the machine ended");
    }

    private void CheckInvariants()
    {
        var k = Kernel;
        for (ulong i = 0; i < (ulong)k.Mm.Frames.Count; i++)
        {
            var pfn = new Pfn(i);
            if (k.Mm.Frames.RefCountOf(pfn) < 0 || k.Mm.Frames.MapCountOf(pfn) < 0 || k.Mm.Frames.PinCountOf(pfn) < 0)
                Fail($"{pfn}: negative count (ref {k.Mm.Frames.RefCountOf(pfn)}, map {k.Mm.Frames.MapCountOf(pfn)}, pin {k.Mm.Frames.PinCountOf(pfn)})");
        }
        foreach (var p in k.Processes)
        {
            if (!p.Alive) continue;
            p.PageTable.Visit(0, ulong.MaxValue, (va, entry, size) =>
            {
                if (entry.IsPresent && _rules.MustNotBeMapped(k, MemoryManager.LeafPfn(entry, size, va)))
                    Fail($"pid {p.Pid} maps {MemoryManager.LeafPfn(entry, size, va)} present at 0x{va:x}, which {_rules.Name} keeps from the VMM");
                return true;
            });
        }
        for (var page = 0; page < PagesUsed; page++)
        {
            var pfn = _m.FrameOf(Gpa(page), "vm");
            Require(!pfn.IsValid || pfn == FrameAllocator.ZeroPage || !k.Mm.Frames.Has(pfn, FrameFlags.Guest), $"the unprotected VM's page {page} became guest-only");
        }
    }

    private void TearDown()
    {
        foreach (var name in new[] { "td", "vm" }) Require(_m.Run("vm.destroy", name).Kind == OutcomeKind.Ok, $"vm.destroy {name}");
        CheckInvariants();
        foreach (var p in Kernel.Processes.ToList()) Kernel.Syscalls.Exit(p);
        CheckInvariants();
        var k = Kernel;
        if (TestMachine.FirstFrameStillAllocated(k) is { } pfn)
            Fail($"{pfn} is still allocated after teardown (flags {k.Mm.Frames.Flags(pfn)}, ref {k.Mm.Frames.RefCountOf(pfn)}) though no memory error hit it");
        Require(k.Mm.Rmap.LiveNodes == 0, $"{k.Mm.Rmap.LiveNodes} rmap nodes after teardown");
    }

    private void Require(bool condition, string message)
    {
        if (!condition) Fail(message);
    }

    private void Fail(string message) => throw new ModelException($"step {_step} {_op}: {message}");
}

internal sealed class ModelException(string message) : Exception(message);

/// <summary>The two VMs of a model run.</summary>
internal static class ModelVms
{
    public static VmSpec Td(BackingKind backing, GuestMemfdFlags flags = GuestMemfdFlags.None)
        => TestMachine.Vm("td", PrivateMemoryModel.VmPages * PageGeometry.PageSize, backing, isProtected: true) with { GmemFlags = flags };

    public static VmSpec Plain(BackingKind backing) => TestMachine.Vm("vm", PrivateMemoryModel.VmPages * PageGeometry.PageSize, backing);
}
