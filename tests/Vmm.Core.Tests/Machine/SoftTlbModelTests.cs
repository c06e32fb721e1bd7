using CsCheck;
using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>
/// The soft TLB changes nothing but speed: random sequences of guest loads and stores (private and shared, across
/// pages, sweeps wider than the semantic TLB), EPT zaps with and without their flush, conversions, VMM writes,
/// MADV_DONTNEED, fork, memory errors and bit flips give the same outcomes, the same cost ledger and the same
/// events on a machine with the soft TLB as on one without it.
/// </summary>
public class SoftTlbModelTests
{
    private static readonly string[] VmNames = ["anon", "td", "shm"];
    private const int Pages = 1024;

    public enum OpKind
    {
        GuestRead,
        GuestWrite,
        Sweep,
        ZapNoFlush,
        Flush,
        Convert,
        HostWrite,
        DontNeed,
        Fork,
        MemoryError,
        FlipBit,
    }

    public readonly record struct Op(OpKind Kind, int Vm, int Page, int Offset, int Length, bool Shared, byte Value)
    {
        public override string ToString() => $"{Kind}({VmNames[Vm]} p{Page}+{Offset} x{Length}{(Shared ? " shared" : "")} 0x{Value:x2})";
    }

    // Few pages, so that ops meet; the sweep's length reaches past the semantic TLB's 64 entries and the soft TLB's first size.
    private static readonly Gen<int> GenPage = Gen.Frequency((6, Gen.Int[0, 7]), (1, Gen.Int[510, 514]), (1, Gen.Int[0, Pages - 1]));

    private static readonly Gen<Op> GenOp = Gen.Select(
        Gen.Frequency(
            (8, Gen.Const(OpKind.GuestRead)), (6, Gen.Const(OpKind.GuestWrite)), (1, Gen.Const(OpKind.Sweep)),
            (3, Gen.Const(OpKind.ZapNoFlush)), (2, Gen.Const(OpKind.Flush)), (2, Gen.Const(OpKind.Convert)),
            (2, Gen.Const(OpKind.HostWrite)), (1, Gen.Const(OpKind.DontNeed)), (1, Gen.Const(OpKind.Fork)),
            (1, Gen.Const(OpKind.MemoryError)), (1, Gen.Const(OpKind.FlipBit))),
        Gen.Int[0, VmNames.Length - 1],
        GenPage,
        Gen.OneOfConst(0, 8, 4090, 4088),
        Gen.OneOfConst(1, 8, 16, 300),
        Gen.Bool,
        Gen.Byte[1, 255],
        (kind, vm, page, offset, length, shared, value) => new Op(kind, vm, page, offset, length, shared, value));

    [Fact]
    public void RandomSequences_GiveTheSameOutcomesLedgerAndEvents_WithTheSoftTlbOnAndOff()
    {
        long fills = 0, flushes = 0, invalidations = 0;
        GenOp.Array[1, 60].Sample(ops =>
        {
            var (on, off) = SoftTlbEquivalence.Run(ops, softTlb => NewMachine(softTlb), Apply, "soft TLB");
            foreach (var vm in on.Kernel.Kvm.VmList)
            {
                fills += vm.SoftTlb.Fills;
                flushes += vm.SoftTlb.Flushes;
                invalidations += vm.SoftTlb.Invalidations;
            }
            foreach (var vm in off.Kernel.Kvm.VmList) Assert.Equal(0, vm.SoftTlb.Fills);
        }, iter: 300, print: ops => string.Join(", ", ops));
        // The sequences did reach the soft TLB and both ways of invalidating it.
        Assert.True(fills > 0 && flushes > 0 && invalidations > 0, $"fills {fills}, flushes {flushes}, invalidations {invalidations}");
    }

    private static TestMachine NewMachine(bool softTlb)
    {
        var m = TestMachine.Create(new MachineSetup
        {
            Vms =
            [
                TestMachine.Vm(VmNames[0], Pages * TestMachine.Page),
                TestMachine.Vm(VmNames[1], Pages * TestMachine.Page, isProtected: true),
                TestMachine.Vm(VmNames[2], Pages * TestMachine.Page, BackingKind.Shmem),
            ],
        });
        Assert.NotNull(m.Kernel.Kvm.DirectFrames);
        m.Kernel.Kvm.SoftTlbEnabled = softTlb;
        return m;
    }

    private static string Apply(TestMachine m, Op op)
    {
        var vm = VmNames[op.Vm];
        var gpa = (ulong)op.Page * TestMachine.Page + (ulong)op.Offset;
        var length = (int)Math.Min((ulong)op.Length, Pages * TestMachine.Page - gpa);
        switch (op.Kind)
        {
            case OpKind.GuestRead:
                return Text(m.Run("guest.read", vm, gpa, len: (ulong)length, shared: op.Shared));
            case OpKind.GuestWrite:
                return Text(m.Run("guest.write", vm, gpa, data: TestMachine.Bytes(op.Value, length), shared: op.Shared));
            case OpKind.Sweep:
                {
                    var text = "";
                    for (var page = 0; page < 300; page++)
                        text += Text(m.Run("guest.read", vm, (ulong)((op.Page + page) % Pages) * TestMachine.Page, len: 8, shared: op.Shared));
                    return text;
                }
            case OpKind.ZapNoFlush:
                return m.Kernel.Kvm.ZapEptLeaf(m.VmNamed(vm), gpa & ~(TestMachine.Page - 1), out var size) ? $"zapped {size}" : "none";
            case OpKind.Flush:
                m.Kernel.Kvm.FlushRemoteTlbs(m.VmNamed(vm), gpa & ~(TestMachine.Page - 1), TestMachine.Page * (ulong)op.Length);
                return "flushed";
            case OpKind.Convert:
                return Text(m.Run("guest.convert", vm, gpa & ~(TestMachine.Page - 1), size: TestMachine.Page * (ulong)Math.Min(op.Length, 16), to: op.Shared ? "shared" : "private"));
            case OpKind.HostWrite:
                return Text(m.HostWrite(gpa, TestMachine.Bytes(op.Value, length), vm));
            case OpKind.DontNeed:
                return Text(m.Madvise(gpa & ~(TestMachine.Page - 1), TestMachine.Page, "DONTNEED", vm));
            case OpKind.Fork:
                return Text(m.Fork());
            case OpKind.MemoryError:
                return Text(m.MemoryError(gpa, consumed: op.Shared, vm));
            default:
                return Text(m.Run("hw.flip-bit", vm, gpa));
        }
    }

    private static string Text(Outcome outcome) => OutcomeJson.ToJson(outcome);
}
