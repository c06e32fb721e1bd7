using CsCheck;
using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>KVM_SET_MEMORY_ATTRIBUTES and the conversion hypercall: ranges are values, never an exception, and cost what they touch.</summary>
public class MemoryAttributesTests
{
    private const ulong MiB = TestMachine.MiB;
    private const ulong Page = TestMachine.Page;

    private static TestMachine Protected(ulong memory = 8 * MiB)
        => TestMachine.Create(new MachineSetup { Vms = [TestMachine.Vm(TestMachine.DefaultVm, memory, BackingKind.Shmem, isProtected: true)] });

    private static Outcome SetAttributes(TestMachine m, ulong gpa, ulong size, bool isPrivate)
        => m.Simulation.Execute(new StepSpec { Index = 0, Op = new Vmm.Core.Engine.Ops.SetAttributes(size, isPrivate) { At = new(TestMachine.DefaultVm, gpa) }, Location = new SourceLocation("test", 1, 1) });

    private static bool IsPrivate(TestMachine m, ulong gpa) => m.VmNamed().IsPrivate(new Gfn(gpa / Page));

    [Fact]
    public void SetAttributes_PastTheEndOfTheVm_IsAllowedAsInKvmAndThrowsNothing()
    {
        var m = Protected();

        Expect.Ok(SetAttributes(m, 4 * MiB, 16 * MiB, isPrivate: false));

        Assert.True(IsPrivate(m, 4 * MiB - Page));
        Assert.False(IsPrivate(m, 4 * MiB));
        Assert.False(IsPrivate(m, 8 * MiB - Page));
        Assert.False(IsPrivate(m, 20 * MiB - Page)); // beyond the memslot: recorded all the same
        Assert.True(IsPrivate(m, 20 * MiB));
    }

    [Theory]
    [InlineData(0x1000UL, 0UL)] // empty
    [InlineData(0x1800UL, 0x1000UL)] // unaligned address
    [InlineData(0x1000UL, 0x800UL)] // unaligned size
    [InlineData(0x1000UL, 0xFFFF_FFFF_FFFF_F000UL)] // wraps
    public void SetAttributes_OfAnEmptyUnalignedOrWrappingRange_IsEinval(ulong gpa, ulong size)
    {
        var m = Protected();

        Expect.Error(Errno.EINVAL, SetAttributes(m, gpa, size, isPrivate: false));

        Assert.True(IsPrivate(m, 0x1000));
    }

    [Fact]
    public void SetAttributes_ZapsOnlyTheEptEntriesOfItsRange()
    {
        var m = Protected();
        Expect.Ok(m.GuestWrite(0x1000, [1]));
        Expect.Ok(m.GuestWrite(0x3000, [3]));
        var shootdowns = m.Ledger.Count(CostKind.TlbShootdown);

        Expect.Ok(SetAttributes(m, 0, 0x2000, isPrivate: false));

        Assert.False((bool)m.Inspect(0x1000)["ept"]!);
        Assert.True((bool)m.Inspect(0x3000)["ept"]!);
        Assert.Equal(shootdowns + 1, m.Ledger.Count(CostKind.TlbShootdown)); // one per zapped entry, as kvm_zap_gfn_range counts here
    }

    [Fact]
    public void SetAttributes_Of64TiB_CostsItsRangesNotItsPages()
    {
        var m = Protected();
        Expect.Ok(m.GuestWrite(0x1000, [1]));
        var steps = m.Kernel.Kvm.PageSteps;

        Expect.Ok(SetAttributes(m, 0, 64UL << 40, isPrivate: false));
        Expect.Ok(SetAttributes(m, 0x2000, (64UL << 40) - 0x2000, isPrivate: true));

        Assert.InRange(m.Kernel.Kvm.PageSteps - steps, 1, 16);
        Assert.False(IsPrivate(m, 0x1000));
        Assert.True(IsPrivate(m, 0x2000));
        Assert.Equal(1, m.VmNamed().SharedGfns.Count);
    }

    [Theory]
    [InlineData(4 * MiB, 16 * MiB)] // past the end (the 16M convert of an 8M VM that used to pass, or throw)
    [InlineData(0UL, 9 * MiB)]
    [InlineData(8 * MiB, 0x1000UL)] // starts at the end
    [InlineData(0x1000UL, 0UL)]
    [InlineData(0x1800UL, 0x1000UL)]
    [InlineData(0x1000UL, ulong.MaxValue - 0xfff)]
    public void Convert_OutsideTheVmOrUnaligned_IsEinvalAndChangesNothing(ulong gpa, ulong size)
    {
        var m = Protected();
        Expect.Ok(m.GuestWrite(0x1000, [1]));

        if (gpa < 8 * MiB) Expect.Error(Errno.EINVAL, m.Run("guest.convert", gpa: gpa, size: size, to: "shared")); // else the step itself is bad input
        Expect.Error(Errno.EINVAL, m.Simulation.Run(() => m.Kernel.Kvm.Convert(m.VmNamed(), gpa, size, toPrivate: false)));

        Assert.True(IsPrivate(m, 0x1000));
        Assert.True(IsPrivate(m, 4 * MiB));
        Assert.Equal(0, m.VmNamed().SharedGfns.Count);
    }

    [Fact]
    public void Convert_OfTheWholeVm_SharesEveryGfn()
    {
        var m = Protected();

        Expect.Ok(m.Run("guest.convert", gpa: 0, size: 8 * MiB, to: "shared"));

        Assert.False(IsPrivate(m, 0));
        Assert.False(IsPrivate(m, 8 * MiB - Page));
    }

    /// <summary>The range set against a bool per gfn, over random adds and removes.</summary>
    [Fact]
    public void GfnRangeSet_MatchesAPerGfnModel()
    {
        const int Gfns = 48;
        var genOp = Gen.Select(Gen.Bool, Gen.Int[0, Gfns], Gen.Int[0, Gfns]);
        genOp.Array[1, 30].Sample(ops =>
        {
            var set = new GfnRangeSet();
            var model = new bool[Gfns + 1];
            foreach (var (add, a, b) in ops)
            {
                var (start, end) = (Math.Min(a, b), Math.Max(a, b));
                if (add) set.Add((ulong)start, (ulong)end);
                else set.Remove((ulong)start, (ulong)end);
                for (var g = start; g < end; g++) model[g] = add;
                for (var g = 0; g <= Gfns; g++)
                    if (set.Contains((ulong)g) != model[g]) return false;
                // Sorted, disjoint and never touching: merging keeps the set as small as it can be.
                for (var i = 1; i < set.Ranges.Count; i++)
                    if (set.Ranges[i - 1].End >= set.Ranges[i].Start) return false;
                if (set.Ranges.Any(r => r.Start >= r.End)) return false;
            }
            return true;
        }, iter: 2000, print: ops => string.Join(", ", ops));
    }

    [Fact]
    public void GfnRangeSet_HoldsTheTopOfTheGfnSpace()
    {
        var set = new GfnRangeSet();

        set.Add(ulong.MaxValue - 4, ulong.MaxValue);
        set.Add(0, 1);

        Assert.True(set.Contains(ulong.MaxValue - 1));
        Assert.False(set.Contains(ulong.MaxValue));
        Assert.True(set.Contains(0));
        Assert.Equal(2, set.Count);
    }
}
