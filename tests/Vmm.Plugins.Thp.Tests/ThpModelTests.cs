using CsCheck;
using Vmm.Abstractions;
using Vmm.Core.Tests.Infrastructure;
using Vmm.Plugins.Thp.Tests.Infrastructure;
using static Vmm.Plugins.Thp.Tests.Infrastructure.ThpMachine;

namespace Vmm.Plugins.Thp.Tests;

/// <summary>
/// Random sequences under every strategy (hwpoison-v2, plain memory, a 4 MiB protected THP VM, kernel 6.11): guest
/// private writes, 4 KiB and 2 MiB conversions both ways, VMM reads and writes, a pin, khugepaged collapse,
/// split_huge_page, memory errors and a fork, at pages on the edges of both 2 MiB ranges. After every step no present
/// leaf of the VMM or its child, 4 KiB or 2 MiB, maps a frame that is private or policy-poisoned, and reference counts stay sane
/// (a refcount bug throws from put_page); without a pin, teardown frees every frame no real error hit.
/// </summary>
public class ThpModelTests
{
    private const int SequencesPerStrategy = 300;
    private static readonly ulong[] Gfns = [0, 1, 2, 255, 511, 512, 513, 1023];

    public enum OpKind
    {
        GuestWrite,
        ShareSmall,
        PrivateSmall,
        ShareRange,
        PrivateRange,
        HostRead,
        HostWrite,
        Pin,
        Collapse,
        Split,
        MemoryError,
        Fork,
    }

    public readonly record struct Op(OpKind Kind, ulong Gfn)
    {
        public override string ToString() => $"{Kind}(gfn {Gfn})";
    }

    private static readonly Gen<Op> GenOp = Gen.Select(
        Gen.Frequency(
            (6, Gen.Const(OpKind.GuestWrite)), (3, Gen.Const(OpKind.ShareSmall)), (2, Gen.Const(OpKind.PrivateSmall)),
            (2, Gen.Const(OpKind.ShareRange)), (1, Gen.Const(OpKind.PrivateRange)), (5, Gen.Const(OpKind.HostRead)),
            (4, Gen.Const(OpKind.HostWrite)), (1, Gen.Const(OpKind.Pin)), (2, Gen.Const(OpKind.Collapse)),
            (1, Gen.Const(OpKind.Split)), (1, Gen.Const(OpKind.MemoryError)), (1, Gen.Const(OpKind.Fork))),
        Gen.Int[0, Gfns.Length - 1],
        (kind, index) => new Op(kind, Gfns[index]));

    private static readonly Gen<Op[]> GenOps = GenOp.Array[1, 30];

    [Theory]
    [MemberData(nameof(AllStrategies), MemberType = typeof(ThpMachine))]
    public void RandomSequences_NoPrivateFrameIsReachableThroughAPresentVmmMapping(string strategy)
    {
        void Run(Op[] ops) => new ModelRun(strategy).Execute(ops);
        var pcg = new PCG(stream: (uint)Array.IndexOf(Strategies, strategy) + 1, seed: 20261201);
        for (var i = 0; i < SequencesPerStrategy; i++)
        {
            var state = pcg.State;
            var ops = GenOps.Generate(pcg, null, out _);
            try
            {
                Run(ops);
            }
            catch (Exception)
            {
                GenOps.Sample(Run, seed: pcg.ToString(state), iter: 1000, threads: 1, print: ops => string.Join(", ", ops));
                throw;
            }
        }
    }

    private sealed class ModelRun(string strategy)
    {
        private readonly TestMachine _m = Create(strategy, 4 * TestMachine.MiB, new KernelVersion(6, 11));
        private bool _pinned;
        private bool _forked;

        public void Execute(Op[] ops)
        {
            for (var step = 0; step < ops.Length; step++)
            {
                Apply(ops[step]);
                if (_m.Simulation.Ended) return;
                Check(ops, step);
            }
            if (!_pinned) TearDown(ops);
        }

        /// <summary>Without a pin (never released), destroying the VM and exiting every process frees every frame no real error hit.</summary>
        private void TearDown(Op[] ops)
        {
            _m.Run("vm.destroy", Td);
            foreach (var p in _m.Kernel.Processes.ToList()) _m.Kernel.Syscalls.Exit(p);
            var frames = _m.Kernel.Mm.Frames;
            if (TestMachine.FirstFrameStillAllocated(_m.Kernel) is { } pfn)
                throw new InvalidOperationException($"{strategy}: {pfn} is still allocated after teardown (flags {frames.Flags(pfn)}, ref {frames.RefCountOf(pfn)}) after {string.Join(", ", ops)}");
        }

        private void Apply(Op op)
        {
            var gpa = op.Gfn * Page;
            var range = gpa & ~(Huge - 1);
            switch (op.Kind)
            {
                case OpKind.GuestWrite: _m.GuestWritePrivate(gpa); break;
                case OpKind.ShareSmall: _m.Convert(gpa, Page, toPrivate: false); break;
                case OpKind.PrivateSmall: _m.Convert(gpa, Page, toPrivate: true); break;
                case OpKind.ShareRange: _m.Convert(range, Huge, toPrivate: false); break;
                case OpKind.PrivateRange: _m.Convert(range, Huge, toPrivate: true); break;
                case OpKind.HostRead: _m.HostRead(gpa, 1, Td); break;
                case OpKind.HostWrite: _m.HostWrite(gpa, 0x11, 1, Td); break;
                case OpKind.Pin when !_pinned:
                    _pinned = _m.Gup(gpa, flags: GupFlags.Pin | GupFlags.Write, vm: Td).Kind == OutcomeKind.Ok;
                    break;
                case OpKind.Collapse: _m.Run("thp.collapse", Td, gpa); break;
                case OpKind.Split: _m.Run("thp.split", Td, gpa); break;
                case OpKind.MemoryError: _m.MemoryError(gpa, vm: Td); break;
                case OpKind.Fork when !_forked:
                    _forked = _m.Fork().Kind == OutcomeKind.Ok;
                    break;
            }
        }

        private void Check(Op[] ops, int step)
        {
            var vm = _m.VmNamed(Td).Info;
            var frames = _m.Kernel.Mm.Frames;
            string? problem = null;
            foreach (var process in _m.Kernel.Processes)
            {
                if (!process.Alive || problem is not null) continue;
                process.PageTable.Visit(vm.HvaBase.Value, vm.HvaBase.Value + vm.MemoryBytes, (va, entry, size) =>
                {
                    if (!entry.IsPresent) return true;
                    var count = size == MappingSize.Size2M ? PageGeometry.PagesPerHuge : 1;
                    for (var i = 0; i < count; i++)
                    {
                        var pfn = entry.Pfn.Add(i);
                        if ((frames.Flags(pfn) & (FrameFlags.Private | FrameFlags.PolicyPoison)) == 0) continue;
                        problem = $"{strategy}: {process.Name}'s present {size} leaf at hva 0x{va:x} reaches private {pfn} (subpage {i})";
                        return false;
                    }
                    return true;
                });
            }
            if (problem is not null)
                throw new InvalidOperationException($"{problem} after step {step} of {string.Join(", ", ops.Take(step + 1))}");
        }
    }
}
