using CsCheck;
using Vmm.Abstractions;
using Vmm.Core.Engine.Ops;
using Vmm.Core.Machine;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>
/// The host soft TLB changes nothing but speed: random sequences of VMM and child loads and stores (across pages,
/// sweeps wider than the semantic TLB and the soft TLB's first size), munmap, MADV_DONTNEED / HWPOISON /
/// SOFT_OFFLINE / HUGEPAGE, THP faults, split and collapse, fork and exit (copy-on-write), memory errors, unpoison,
/// bit flips, hole punches, guest accesses and conversions, and a write-protect left stale in the semantic TLB until
/// its shootdown give the same outcomes, the same cost ledger and the same events with the host soft TLB on and off.
/// </summary>
public class HostSoftTlbModelTests
{
    private static readonly string[] VmNames = ["anon", "shm", "td"];
    private const int Pages = 1024;

    public enum OpKind
    {
        HostRead,
        HostWrite,
        Sweep,
        ChildRead,
        ChildWrite,
        Fork,
        ExitChild,
        Munmap,
        DontNeed,
        HwPoison,
        SoftOffline,
        HugePage,
        ThpSplit,
        ThpCollapse,
        MemoryError,
        UnreachableMemoryError,
        Unpoison,
        FlipBit,
        PunchHole,
        GuestRead,
        GuestWrite,
        Convert,
        WrProtectNoFlush,
        ShootDown,
    }

    public readonly record struct Op(OpKind Kind, int Vm, int Page, int Offset, int Length, int Child, bool Flag, byte Value)
    {
        public override string ToString() => $"{Kind}({VmNames[Vm]} p{Page}+{Offset} x{Length} c{Child}{(Flag ? " flag" : "")} 0x{Value:x2})";
    }

    // Few pages, so that ops meet; a sweep reaches past the semantic TLB's 64 entries and the soft TLB's first size,
    // and pages 510..514 straddle the first 2 MiB boundary.
    private static readonly Gen<int> GenPage = Gen.Frequency((6, Gen.Int[0, 3]), (1, Gen.Int[510, 514]), (1, Gen.Int[0, Pages - 1]));

    private static readonly Gen<Op> GenOp = Gen.Select(
        Gen.Frequency(
            (8, Gen.Const(OpKind.HostRead)), (7, Gen.Const(OpKind.HostWrite)), (1, Gen.Const(OpKind.Sweep)),
            (3, Gen.Const(OpKind.ChildRead)), (3, Gen.Const(OpKind.ChildWrite)), (2, Gen.Const(OpKind.Fork)),
            (1, Gen.Const(OpKind.ExitChild)), (1, Gen.Const(OpKind.Munmap)), (2, Gen.Const(OpKind.DontNeed)),
            (1, Gen.Const(OpKind.HwPoison)), (1, Gen.Const(OpKind.SoftOffline)), (1, Gen.Const(OpKind.HugePage)),
            (1, Gen.Const(OpKind.ThpSplit)), (1, Gen.Const(OpKind.ThpCollapse)), (1, Gen.Const(OpKind.MemoryError)),
            (2, Gen.Const(OpKind.UnreachableMemoryError)), (1, Gen.Const(OpKind.Unpoison)), (1, Gen.Const(OpKind.FlipBit)),
            (1, Gen.Const(OpKind.PunchHole)),
            (2, Gen.Const(OpKind.GuestRead)), (2, Gen.Const(OpKind.GuestWrite)), (1, Gen.Const(OpKind.Convert)),
            (2, Gen.Const(OpKind.WrProtectNoFlush)), (2, Gen.Const(OpKind.ShootDown))),
        Gen.Int[0, VmNames.Length - 1],
        GenPage,
        Gen.OneOfConst(0, 8, 4090, 4088),
        Gen.OneOfConst(1, 8, 16, 300),
        Gen.Int[0, 3],
        Gen.Bool,
        Gen.Byte[1, 255],
        (kind, vm, page, offset, length, child, flag, value) => new Op(kind, vm, page, offset, length, child, flag, value));

    [Fact]
    public void RandomSequences_GiveTheSameOutcomesLedgerAndEvents_WithTheHostSoftTlbOnAndOff()
    {
        long fills = 0, flushes = 0, invalidations = 0, direct = 0;
        GenOp.Array[1, 60].Sample(ops =>
        {
            var (on, off) = SoftTlbEquivalence.Run(ops, softTlb => NewMachine(softTlb), Apply, "host soft TLB");
            foreach (var p in on.Kernel.Processes)
            {
                var soft = p.SoftTlb!;
                fills += soft.Fills;
                flushes += soft.Flushes;
                invalidations += soft.Invalidations;
                direct += soft.DirectFills;
            }
            foreach (var p in off.Kernel.Processes) Assert.Equal(0, p.SoftTlb!.Fills);
        }, iter: 400, print: ops => string.Join(", ", ops));
        // The sequences did reach the soft TLB, its direct grants and both ways of invalidating it.
        Assert.True(fills > 0 && flushes > 0 && invalidations > 0 && direct > 0, $"fills {fills}, flushes {flushes}, invalidations {invalidations}, direct {direct}");
    }

    private static TestMachine NewMachine(bool softTlb)
    {
        var m = TestMachine.Create(new MachineSetup
        {
            Vms =
            [
                TestMachine.Vm(VmNames[0], Pages * TestMachine.Page),
                TestMachine.Vm(VmNames[1], Pages * TestMachine.Page, BackingKind.Shmem),
                TestMachine.Vm(VmNames[2], Pages * TestMachine.Page, isProtected: true),
            ],
        });
        Assert.NotNull(m.Kernel.Uaccess.DirectFrames);
        Assert.NotNull(m.VmmProcess.SoftTlb);
        m.Kernel.Uaccess.SoftTlbEnabled = softTlb;
        return m;
    }

    // An op the machine refuses as bad input (a frame that cannot be had after munmap) is refused alike on both.
    private static string Apply(TestMachine m, Op op)
    {
        try
        {
            return Execute(m, op);
        }
        catch (ScenarioException e)
        {
            return $"refused: {e.Message}";
        }
    }

    private static string Execute(TestMachine m, Op op)
    {
        var vm = VmNames[op.Vm];
        var gpa = (ulong)op.Page * TestMachine.Page + (ulong)op.Offset;
        var page = gpa & ~(TestMachine.Page - 1);
        var length = (int)Math.Min((ulong)op.Length, Pages * TestMachine.Page - gpa);
        switch (op.Kind)
        {
            case OpKind.HostRead:
                return Text(m.HostRead(gpa, length, vm));
            case OpKind.HostWrite:
                return Text(m.HostWrite(gpa, TestMachine.Bytes(op.Value, length), vm));
            case OpKind.Sweep:
            {
                var text = "";
                for (var i = 0; i < 300; i++)
                {
                    var at = (ulong)((op.Page + i) % Pages) * TestMachine.Page;
                    text += Text(op.Flag ? m.HostWrite(at, TestMachine.Bytes(op.Value, 8), vm) : m.HostRead(at, 8, vm));
                }
                return text;
            }
            case OpKind.ChildRead:
            case OpKind.ChildWrite:
            {
                if (Child(m, op.Child) is not { } child) return "no child";
                var write = op.Kind == OpKind.ChildWrite;
                return Text(m.UserAccess(child, m.HvaOf(gpa, vm), write ? TestMachine.Bytes(op.Value, length) : new byte[length], write));
            }
            case OpKind.Fork:
                return Children(m).Count() < 3 ? Text(m.Fork()) : "enough children";
            case OpKind.ExitChild:
            {
                if (Child(m, op.Child) is not { } child) return "no child";
                m.Kernel.Syscalls.Exit(child);
                return "exited";
            }
            case OpKind.Munmap:
                return Text(m.Munmap(page, TestMachine.Page * (ulong)(op.Flag ? 512 : 2), vm));
            case OpKind.DontNeed:
                return Text(m.Madvise(page, TestMachine.Page * (ulong)(op.Flag ? 512 : 1), "DONTNEED", vm));
            case OpKind.HwPoison:
                return Text(m.Madvise(page, TestMachine.Page, "HWPOISON", vm));
            case OpKind.SoftOffline:
                return Text(m.Madvise(page, TestMachine.Page, "SOFT_OFFLINE", vm));
            case OpKind.HugePage:
                return Text(m.Madvise(0, Pages * TestMachine.Page, op.Flag ? "HUGEPAGE" : "NOHUGEPAGE", vm));
            case OpKind.ThpSplit:
                return Text(m.Run("thp.split", vm, page));
            case OpKind.ThpCollapse:
                return Text(m.Run("thp.collapse", vm, page));
            case OpKind.MemoryError:
                return Text(m.MemoryError(gpa, consumed: op.Flag, vm));
            case OpKind.UnreachableMemoryError:
                // try_to_unmap cannot reach the VMM's mapping (K30): the poisoned frame stays mapped, and only the controller's revocation drops its grant.
                return Text(m.Run(new MemoryError(op.Flag, UnreachableMapping: true) { At = new StepAddress(vm, gpa) }));
            case OpKind.Unpoison:
                return Text(m.Run("hw.unpoison", vm, gpa));
            case OpKind.FlipBit:
                return Text(m.Run("hw.flip-bit", vm, gpa));
            case OpKind.PunchHole:
                return Text(m.Run(new Fallocate(TestMachine.Page * (ulong)(op.Flag ? 512 : 1), ["PUNCH_HOLE", "KEEP_SIZE"]) { At = new StepAddress(VmNames[1], Offset: page) })); // the shmem VM's file
            case OpKind.GuestRead:
                return Text(m.Run("guest.read", vm, gpa, len: (ulong)length, shared: op.Flag));
            case OpKind.GuestWrite:
                return Text(m.Run("guest.write", vm, gpa, data: TestMachine.Bytes(op.Value, length), shared: op.Flag));
            case OpKind.Convert:
                return Text(m.Run("guest.convert", vm, page, size: TestMachine.Page * (ulong)Math.Min(op.Length, 16), to: op.Flag ? "shared" : "private"));
            case OpKind.WrProtectNoFlush:
            {
                // A leaf made read-only with its shootdown still to come: the semantic TLB keeps the writable translation.
                var p = Child(m, op.Child) is { } child && op.Flag ? child : m.VmmProcess;
                var hva = m.HvaOf(page, vm);
                var entry = p.PageTable.Lookup(hva, out var size);
                if (!entry.IsPresent || !entry.IsWritable) return "not writable";
                p.PageTable.Set(size == MappingSize.Size2M ? hva & ~(TestMachine.Huge - 1) : hva, entry.WithWritable(false), size);
                return $"write-protected {size}";
            }
            default:
            {
                var p = Child(m, op.Child) is { } child && op.Flag ? child : m.VmmProcess;
                m.Kernel.Mm.ShootDown(p, new Hva(m.HvaOf(page, vm)), TestMachine.Page * (ulong)op.Length);
                return "shot down";
            }
        }
    }

    private static IEnumerable<Process> Children(TestMachine m) => m.Kernel.Processes.Where(p => p.Alive && p != m.VmmProcess);

    private static Process? Child(TestMachine m, int index)
    {
        var children = Children(m).ToList();
        return children.Count == 0 ? null : children[index % children.Count];
    }

    private static string Text(Outcome outcome) => OutcomeJson.ToJson(outcome);
}
