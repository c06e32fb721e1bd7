using CsCheck;
using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>
/// kvm.hugeEpt changes how many EPT leaves map the guest, never what the guest sees: random sequences of guest loads
/// and stores (private and shared), conversions, VMM writes, MADV_DONTNEED, munmap, fork, PMD and THP splits,
/// collapse and memory errors give the same outcomes, and the same bytes in every page at the end, with 2 MiB EPT
/// leaves as with 4 KiB ones.
/// </summary>
public class HugeEptModelTests
{
    private static readonly string[] VmNames = ["thp", "hugetlb", "cvm"];
    private const int Pages = 1024;

    public enum OpKind
    {
        GuestRead,
        GuestWrite,
        Convert,
        HostWrite,
        DontNeed,
        Munmap,
        Fork,
        SplitPmd,
        Collapse,
        MemoryError,
    }

    public readonly record struct Op(OpKind Kind, int Vm, int Page, int Offset, int Length, bool Shared, byte Value)
    {
        public override string ToString() => $"{Kind}({VmNames[Vm]} p{Page}+{Offset} x{Length}{(Shared ? " shared" : "")} 0x{Value:x2})";
    }

    // Pages in both huge pages, clustered so that ops meet inside one 2 MiB range.
    private static readonly Gen<int> GenPage = Gen.Frequency((4, Gen.Int[0, 7]), (3, Gen.Int[510, 520]), (1, Gen.Int[0, Pages - 1]));

    private static readonly Gen<Op> GenOp = Gen.Select(
        Gen.Frequency(
            (8, Gen.Const(OpKind.GuestRead)), (8, Gen.Const(OpKind.GuestWrite)), (3, Gen.Const(OpKind.Convert)),
            (2, Gen.Const(OpKind.HostWrite)), (1, Gen.Const(OpKind.DontNeed)), (1, Gen.Const(OpKind.Munmap)),
            (1, Gen.Const(OpKind.Fork)), (1, Gen.Const(OpKind.SplitPmd)), (1, Gen.Const(OpKind.Collapse)),
            (1, Gen.Const(OpKind.MemoryError))),
        Gen.Int[0, VmNames.Length - 1],
        GenPage,
        Gen.OneOfConst(0, 8, 4090),
        Gen.OneOfConst(1, 8, 300),
        Gen.Bool,
        Gen.Byte[1, 255],
        (kind, vm, page, offset, length, shared, value) => new Op(kind, vm, page, offset, length, shared, value));

    [Fact]
    public void RandomSequences_GiveTheSameOutcomesAndBytes_WithHugeEptOnAndOff()
    {
        long hugeLeaves = 0;
        GenOp.Array[1, 40].Sample(ops =>
        {
            var on = NewMachine(hugeEpt: true);
            var off = NewMachine(hugeEpt: false);
            for (var step = 0; step < ops.Length; step++)
            {
                var a = Apply(on, ops[step], ref hugeLeaves);
                var b = Apply(off, ops[step], ref hugeLeaves);
                Assert.True(a == b, $"step {step} {ops[step]}: {a} with huge EPT leaves, {b} without");
            }
            foreach (var vm in VmNames)
            {
                for (var page = 0UL; page < Pages; page++)
                {
                    var shared = vm != "cvm" || !on.VmNamed(vm).IsPrivate(new Gfn(page));
                    var a = Text(on.Run("guest.read", vm, page * TestMachine.Page, len: 8, shared: shared));
                    var b = Text(off.Run("guest.read", vm, page * TestMachine.Page, len: 8, shared: shared));
                    Assert.True(a == b, $"{vm} page {page} at the end: {a} with huge EPT leaves, {b} without");
                }
            }
        }, iter: 100, print: ops => string.Join(", ", ops));
        // The sequences did map 2 MiB leaves, so the comparison covers them.
        Assert.True(hugeLeaves > 0, "no sequence installed a 2 MiB EPT leaf");
    }

    private static TestMachine NewMachine(bool hugeEpt) => TestMachine.Create(new MachineSetup
    {
        Vms =
        [
            TestMachine.Vm(VmNames[0], Pages * TestMachine.Page, thp: true),
            TestMachine.Vm(VmNames[1], Pages * TestMachine.Page, BackingKind.Hugetlb),
            TestMachine.Vm(VmNames[2], Pages * TestMachine.Page, isProtected: true, thp: true),
        ],
        ThpFor = _ => new AlwaysHugeThp(),
        Kvm = new KvmOptions { HugeEpt = hugeEpt },
    });

    /// <summary>The op's outcome, or the step's bad-input message (a memory error on a page with no frame).</summary>
    private static string Apply(TestMachine m, Op op, ref long hugeLeaves)
    {
        try
        {
            return ApplyOp(m, op, ref hugeLeaves);
        }
        catch (ScenarioException e)
        {
            return e.Message;
        }
    }

    private static string ApplyOp(TestMachine m, Op op, ref long hugeLeaves)
    {
        var vm = VmNames[op.Vm];
        var gpa = (ulong)op.Page * TestMachine.Page + (ulong)op.Offset;
        var page = gpa & ~(TestMachine.Page - 1);
        var length = (int)Math.Min((ulong)op.Length, Pages * TestMachine.Page - gpa);
        switch (op.Kind)
        {
            case OpKind.GuestRead:
                return Text(m.Run("guest.read", vm, gpa, len: (ulong)length, shared: op.Shared));
            case OpKind.GuestWrite:
                var written = Text(m.Run("guest.write", vm, gpa, data: TestMachine.Bytes(op.Value, length), shared: op.Shared));
                if (m.VmNamed(vm).Ept.Lookup(page, out var size).IsPresent && size == MappingSize.Size2M) hugeLeaves++;
                return written;
            case OpKind.Convert:
                // Whole 2 MiB ranges too, so that a protected VM's shared range can be mapped huge.
                var bytes = op.Length == 300 ? TestMachine.Huge : TestMachine.Page * (ulong)op.Length;
                var start = op.Length == 300 ? page & ~(TestMachine.Huge - 1) : page;
                return Text(m.Run("guest.convert", vm, start, size: Math.Min(bytes, Pages * TestMachine.Page - start), to: op.Shared ? "shared" : "private"));
            case OpKind.HostWrite:
                return Text(m.HostWrite(gpa, TestMachine.Bytes(op.Value, length), vm));
            // hugetlb takes only whole huge pages (Linux: EINVAL otherwise; the model zaps the 2 MiB leaf but notifies 4 KiB).
            case OpKind.DontNeed:
                return vm == "hugetlb" ? Text(m.Madvise(page & ~(TestMachine.Huge - 1), TestMachine.Huge, "DONTNEED", vm)) : Text(m.Madvise(page, TestMachine.Page, "DONTNEED", vm));
            case OpKind.Munmap:
                return vm == "hugetlb" ? Text(m.Munmap(page & ~(TestMachine.Huge - 1), TestMachine.Huge, vm)) : Text(m.Munmap(page, TestMachine.Page, vm));
            case OpKind.Fork:
                return Text(m.Fork());
            case OpKind.SplitPmd:
                return Text(m.Run("thp.split", vm, page));
            case OpKind.Collapse:
                return Text(m.Run("thp.collapse", vm, page));
            default:
                return Text(m.MemoryError(gpa, consumed: op.Shared, vm));
        }
    }

    private static string Text(Outcome outcome) => OutcomeJson.ToJson(outcome);
}
