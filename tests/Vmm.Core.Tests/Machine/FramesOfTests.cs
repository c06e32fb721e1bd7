using CsCheck;
using Vmm.Abstractions;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>
/// FramesOf (the walk a wide conversion uses) against FrameOf for every gfn of the range, after random
/// touches, THP, zaps, hwpoison and extra mappings, for every backing.
/// </summary>
public class FramesOfTests
{
    private const ulong MiB = TestMachine.MiB;
    private const ulong VmBytes = 16 * MiB;
    private const int Pages = (int)(VmBytes / TestMachine.Page);

    private enum Touch { HostWrite, HostRead, GuestWrite, HugePageWrite, DontNeed, HwPoison, MmapAndWrite }

    private static readonly Gen<(Touch Op, int Page)> GenTouch = Gen.Select(Gen.Enum<Touch>(), Gen.Int[0, Pages - 1]);

    [Theory]
    [InlineData(BackingKind.Anon)]
    [InlineData(BackingKind.Shmem)]
    [InlineData(BackingKind.File)]
    [InlineData(BackingKind.Hugetlb)]
    public void FramesOf_FindsExactlyTheFramesFrameOfFinds_InGfnOrder(BackingKind backing)
    {
        Gen.Select(GenTouch.Array[1, 25], Gen.Int[0, Pages], Gen.Int[0, Pages + 600]).Sample((touches, a, b) =>
        {
            var m = TestMachine.Create(new MachineSetup { Vms = [TestMachine.Vm(TestMachine.DefaultVm, VmBytes, backing)], Headroom = 64 * MiB });
            foreach (var (op, page) in touches) Apply(m, op, (ulong)page * TestMachine.Page);
            var (first, end) = ((ulong)Math.Min(a, b), (ulong)Math.Max(a, b));
            var id = m.VmNamed().Info.Id;
            var expected = new List<(Gfn, Pfn)>();
            for (var gfn = first; gfn < end; gfn++)
                if (m.Kernel.Kvm.FrameOf(id, new Gfn(gfn)) is { IsValid: true } pfn) expected.Add((new Gfn(gfn), pfn));

            var found = new List<(Gfn Gfn, Pfn Pfn)>();
            m.Kernel.Kvm.FramesOf(id, new Gfn(first), new Gfn(end), found);

            return found.SequenceEqual(expected);
        }, iter: 150, print: t => $"{string.Join(", ", t.Item1)} range [{Math.Min(t.Item2, t.Item3)}, {Math.Max(t.Item2, t.Item3)})");
    }

    private static void Apply(TestMachine m, Touch op, ulong gpa)
    {
        switch (op)
        {
            case Touch.HostWrite:
                m.HostWrite(gpa, 1, 8);
                break;
            case Touch.HostRead:
                m.HostRead(gpa, 8);
                break;
            case Touch.GuestWrite:
                m.GuestWrite(gpa, [2]);
                break;
            case Touch.HugePageWrite:
                m.Madvise(gpa & ~(TestMachine.Huge - 1), TestMachine.Huge, "HUGEPAGE");
                m.HostWrite(gpa, 3, 8);
                break;
            case Touch.DontNeed:
                m.Madvise(gpa, 3 * TestMachine.Page, "DONTNEED");
                break;
            case Touch.HwPoison:
                m.Madvise(gpa, TestMachine.Page, "HWPOISON");
                break;
            case Touch.MmapAndWrite:
                if (m.VmNamed().File is null) break;
                // A second mapping of the file: its pages are in the cache but not in the memslot's page table.
                if (m.Run("host.mmap-backing", offset: 0, size: VmBytes).Count is { } hva) m.Run("host.write", null, hva: (ulong)hva + gpa, data: [5]);
                break;
        }
    }

    [Fact]
    public void FramesOf_OfAHugetlbRangeStartingInsideAHugePage_FindsItsSubpages()
    {
        var m = TestMachine.Create(new MachineSetup { Vms = [TestMachine.Vm(TestMachine.DefaultVm, VmBytes, BackingKind.Hugetlb)] });
        Expect.Ok(m.HostWrite(0x1000, 1, 8));
        var found = new List<(Gfn Gfn, Pfn Pfn)>();

        m.Kernel.Kvm.FramesOf(m.VmNamed().Info.Id, new Gfn(5), new Gfn(5 + 1024), found);

        Assert.Equal(507, found.Count); // gfns 5..511 of the one huge page
        Assert.Equal((new Gfn(5), m.FrameOf(5 * TestMachine.Page)), found[0]);
    }

    [Fact]
    public void FramesOf_PastTheEndOfTheVm_FindsNothingOfTheNextMapping()
    {
        var m = TestMachine.Create(new MachineSetup { Vms = [TestMachine.Vm("a", VmBytes), TestMachine.Vm("b", VmBytes)] });
        Expect.Ok(m.HostWrite(0, 1, 8, vm: "b"));
        var found = new List<(Gfn Gfn, Pfn Pfn)>();

        m.Kernel.Kvm.FramesOf(m.VmNamed("a").Info.Id, new Gfn(0), new Gfn(1UL << 40), found);

        Assert.Empty(found);
        Assert.False(m.Kernel.Kvm.FrameOf(m.VmNamed("a").Info.Id, new Gfn(1UL << 18)).IsValid); // 1 GiB in: vm b's first page
    }
}
