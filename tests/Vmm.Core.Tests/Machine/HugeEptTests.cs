using Vmm.Abstractions;
using Vmm.Core.Costs;
using Vmm.Core.Engine;
using Vmm.Core.Machine;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>
/// kvm.hugeEpt: a guest fault on memory the VMM maps with a 2 MiB leaf installs one 2 MiB EPT leaf of the huge page
/// (kvm_mmu_hugepage_adjust), and everything that changes one 4 KiB page inside it zaps the whole leaf.
/// </summary>
public class HugeEptTests
{
    private const ulong Page = TestMachine.Page;
    private const ulong Huge = TestMachine.Huge;
    private const ulong Memory = 8 * TestMachine.MiB;

    private static TestMachine Machine(BackingKind backing, bool thp = false, bool isProtected = false, bool hugeEpt = true)
        => TestMachine.Create(new MachineSetup
        {
            Vms = [TestMachine.Vm(TestMachine.DefaultVm, Memory, backing, isProtected, thp)],
            ThpFor = _ => new AlwaysHugeThp(),
            Kvm = new KvmOptions { HugeEpt = hugeEpt },
        });

    /// <summary>The EPT's leaves as (gpa, size).</summary>
    private static List<(ulong Gpa, MappingSize Size)> EptLeaves(TestMachine m)
    {
        var leaves = new List<(ulong, MappingSize)>();
        m.VmNamed().Ept.Visit(0, Memory, (gpa, _, size) =>
        {
            leaves.Add((gpa, size));
            return true;
        });
        return leaves;
    }

    private static MappingSize EptSize(TestMachine m, ulong gpa)
    {
        var entry = m.VmNamed().Ept.Lookup(gpa, out var size);
        Assert.True(entry.IsPresent, $"no EPT leaf at 0x{gpa:x}");
        return size;
    }

    private static void WriteEveryPage(TestMachine m, bool shared = false)
    {
        for (var gpa = 0UL; gpa < Memory; gpa += Page)
            Assert.Equal(OutcomeKind.Ok, m.Run("guest.write", gpa: gpa, data: BitConverter.GetBytes(gpa + 1), shared: shared).Kind);
    }

    [Theory]
    [InlineData(BackingKind.Anon, true)]
    [InlineData(BackingKind.Hugetlb, false)]
    public void GuestWrites_OfEveryPage_FaultOncePer2MiB_WithHugeEpt(BackingKind backing, bool thp)
    {
        var m = Machine(backing, thp);
        WriteEveryPage(m);

        Assert.Equal((long)(Memory / Huge), m.Ledger.Count(CostKind.EptFault));
        Assert.Equal([(0UL, MappingSize.Size2M), (Huge, MappingSize.Size2M), (2 * Huge, MappingSize.Size2M), (3 * Huge, MappingSize.Size2M)], EptLeaves(m));
        // The 2 MiB leaf maps the huge page's head: every gpa reaches the frame the VMM maps at its hva.
        for (var gpa = 0UL; gpa < Memory; gpa += 97 * Page)
        {
            Assert.Equal(m.FrameOf(gpa), m.Kernel.Kvm.FrameOf(m.VmNamed().Info.Id, new Gfn(gpa >> 12)));
            Assert.Equal(BitConverter.GetBytes(gpa + 1), m.GuestRead(gpa, 8).Data);
            Assert.Equal(BitConverter.GetBytes(gpa + 1), m.HostRead(gpa, 8).Data);
        }
        Assert.Equal((long)(Memory / Huge), m.Ledger.Count(CostKind.EptFault));
    }

    [Theory]
    [InlineData(BackingKind.Anon, true)]
    [InlineData(BackingKind.Hugetlb, false)]
    public void GuestWrites_OfEveryPage_FaultOncePer4KiB_WithoutHugeEpt(BackingKind backing, bool thp)
    {
        var m = Machine(backing, thp, hugeEpt: false);
        WriteEveryPage(m);

        Assert.Equal((long)(Memory / Page), m.Ledger.Count(CostKind.EptFault));
        Assert.All(EptLeaves(m), leaf => Assert.Equal(MappingSize.Size4K, leaf.Size));
    }

    [Fact]
    public void GuestWrites_OfAnon4KiBBackedVm_Keep4KiBLeaves_WithHugeEpt()
    {
        var m = Machine(BackingKind.Anon);
        WriteEveryPage(m);

        Assert.Equal((long)(Memory / Page), m.Ledger.Count(CostKind.EptFault));
        Assert.All(EptLeaves(m), leaf => Assert.Equal(MappingSize.Size4K, leaf.Size));
    }

    [Fact]
    public void WritesThroughAHugeLeaf_MarkTheSubpageDirty_NotTheHead()
    {
        var m = Machine(BackingKind.Hugetlb);
        m.GuestWrite(Huge + 5 * Page, [1]);
        var head = m.FrameOf(Huge);
        m.Kernel.Mm.Frames.ClearFlags(head, FrameFlags.Dirty);
        m.Kernel.Mm.Frames.ClearFlags(head.Add(5), FrameFlags.Dirty);

        m.GuestWrite(Huge + 5 * Page + 8, [2]); // a hit through the 2 MiB leaf (soft TLB)
        m.Kernel.Kvm.SoftTlbEnabled = false;
        m.GuestWrite(Huge + 5 * Page + 16, [3]); // the slow path through the same leaf

        Assert.Equal(MappingSize.Size2M, EptSize(m, Huge + 5 * Page));
        Assert.True(m.Kernel.Mm.Frames.Has(head.Add(5), FrameFlags.Dirty));
        Assert.False(m.Kernel.Mm.Frames.Has(head, FrameFlags.Dirty));
    }

    [Fact]
    public void ConversionOfOne4KiBPage_ZapsTheWhole2MiBLeaf_AndMixedAttributesKeep4KiB()
    {
        var m = Machine(BackingKind.Anon, thp: true, isProtected: true);
        Assert.Equal(OutcomeKind.Ok, m.Run("guest.convert", gpa: 0, size: Memory, to: "shared").Kind);
        m.Run("guest.write", gpa: Huge + 3 * Page, data: [0x33], shared: true);
        m.Run("guest.write", gpa: Huge + 9 * Page, data: [0x99], shared: true);
        Assert.Equal(MappingSize.Size2M, EptSize(m, Huge));
        Assert.Equal(true, m.Inspect(Huge + 7 * Page)["eptHuge"]);

        Assert.Equal(OutcomeKind.Ok, m.Run("guest.convert", gpa: Huge + 3 * Page, size: Page, to: "private").Kind);

        Assert.DoesNotContain(EptLeaves(m), l => l.Gpa >= Huge && l.Gpa < 2 * Huge);
        Assert.Equal(false, m.Inspect(Huge + 9 * Page)["ept"]);
        // The range now mixes private and shared gfns: a shared access refaults at 4 KiB.
        Assert.Equal([0x99], m.Run("guest.read", gpa: Huge + 9 * Page, len: 1, shared: true).Data);
        Assert.Equal(MappingSize.Size4K, EptSize(m, Huge + 9 * Page));
        Assert.Equal(false, m.Inspect(Huge + 9 * Page)["eptHuge"]);

        // Shared again, all 512: the next fault in the range maps 2 MiB over the 4 KiB table (and its leaf at +9).
        Assert.Equal(OutcomeKind.Ok, m.Run("guest.convert", gpa: Huge + 3 * Page, size: Page, to: "shared").Kind);
        Assert.Equal([0x33], m.Run("guest.read", gpa: Huge + 3 * Page, len: 1, shared: true).Data);
        Assert.Equal([(Huge, MappingSize.Size2M)], EptLeaves(m));
        // The table's leaves went with a flush: no vCPU keeps the 4 KiB translation of +9.
        Assert.False(m.VmNamed().Tlb.TryLookup(Huge + 9 * Page, out _, out var cached) && cached == MappingSize.Size4K);
        Assert.Equal([0x99], m.Run("guest.read", gpa: Huge + 9 * Page, len: 1, shared: true).Data);
    }

    [Fact]
    public void PrivateAccesses_OfAProtectedVm_Keep4KiBLeaves()
    {
        var m = Machine(BackingKind.Anon, thp: true, isProtected: true);
        m.Run("guest.write", gpa: Huge, data: [1]);
        m.Run("guest.write", gpa: Huge + Page, data: [2]);

        Assert.Equal(MappingSize.Size4K, EptSize(m, Huge));
        Assert.Equal(2, m.Ledger.Count(CostKind.EptFault));

        // A private access keeps 4 KiB even where every gfn of the range is shared (the private side is per 4 KiB here).
        m.Run("guest.convert", gpa: 0, size: Huge, to: "shared");
        m.Run("guest.write", gpa: 3 * Page, data: [3]);
        Assert.Equal([(3 * Page, MappingSize.Size4K)], EptLeaves(m).Where(l => l.Gpa < Huge));
    }

    [Fact]
    public void APrivateFault_UnderASharedTd2MiBLeaf_ReplacesItWith4KiB_AndTheTakenPageKeepsTheRange4KiB()
    {
        // A TD's shared access maps 2 MiB; a private access to one of its gfns then faults at 4 KiB (TDH.MEM.PAGE.AUG).
        var m = TestMachine.Create(new MachineSetup
        {
            Vms = [TestMachine.Vm(TestMachine.DefaultVm, Memory, BackingKind.Anon, isProtected: true, thp: true)],
            Memory = (memory, ledger) => new Vmm.Plugins.Tdx.Ci.TdxCiMemoryController(new Vmm.Plugins.Tdx.TdxOptions(), memory, ledger),
            ThpFor = _ => new AlwaysHugeThp(),
            Kvm = new KvmOptions { HugeEpt = true },
        });
        Assert.False(m.VmNamed().Info.PrivateKey.IsShared);
        m.Run("guest.convert", gpa: 0, size: Memory, to: "shared");
        m.Run("guest.write", gpa: 5 * Page, data: [5], shared: true);
        Assert.Equal([(0UL, MappingSize.Size2M)], EptLeaves(m));
        var shootdowns = m.Ledger.Count(CostKind.TlbShootdown);

        Assert.Equal(OutcomeKind.Ok, m.Run("guest.write", gpa: 5 * Page, data: [6], shared: false).Kind);

        Assert.Equal([(5 * Page, MappingSize.Size4K)], EptLeaves(m));
        Assert.True(m.Ledger.Count(CostKind.TlbShootdown) > shootdowns);
        // The range's attributes are still all shared, but one of its frames is the TD's now: shared faults stay 4 KiB.
        Assert.Equal(OutcomeKind.Ok, m.Run("guest.read", gpa: 6 * Page, len: 1, shared: true).Kind);
        Assert.Equal([(5 * Page, MappingSize.Size4K), (6 * Page, MappingSize.Size4K)], EptLeaves(m));
        Assert.Equal([6], m.Run("guest.read", gpa: 5 * Page, len: 1, shared: false).Data);
    }

    [Fact]
    public void Munmap_OfOne4KiBPage_ZapsTheWhole2MiBLeaf_AndTheRestRefaultsAt4KiB()
    {
        var m = Machine(BackingKind.Anon, thp: true);
        WriteEveryPage(m);
        Assert.Equal(MappingSize.Size2M, EptSize(m, Huge));

        Assert.Equal(OutcomeKind.Ok, m.Munmap(Huge + 4 * Page, Page).Kind);

        Assert.DoesNotContain(EptLeaves(m), l => l.Gpa >= Huge && l.Gpa < 2 * Huge);
        Assert.Equal(MappingSize.Size2M, EptSize(m, 0)); // the neighbouring huge page keeps its leaf
        // munmap split the VMM's PMD: the other 511 pages refault at 4 KiB with their bytes, the unmapped one fails.
        Assert.Equal(BitConverter.GetBytes(Huge + 5 * Page + 1), m.GuestRead(Huge + 5 * Page, 8).Data);
        Assert.Equal(MappingSize.Size4K, EptSize(m, Huge + 5 * Page));
        Assert.NotEqual(OutcomeKind.Ok, m.GuestRead(Huge + 4 * Page, 8).Kind);
    }

    [Fact]
    public void MemoryFailure_OfOneSubpageOfATHP_ZapsTheWhole2MiBLeaf_AndTheNeighboursRefault()
    {
        var m = Machine(BackingKind.Anon, thp: true);
        WriteEveryPage(m);
        var poisoned = Huge + 7 * Page;
        Assert.Equal(MappingSize.Size2M, EptSize(m, poisoned));

        Assert.Equal(OutcomeKind.Ok, m.MemoryError(poisoned).Kind);

        Assert.DoesNotContain(EptLeaves(m), l => l.Gpa >= Huge && l.Gpa < 2 * Huge);
        // memory_failure split the THP: the neighbours refault at 4 KiB with their bytes, the failed page is SIGBUS.
        Assert.Equal(BitConverter.GetBytes(Huge + 8 * Page + 1), m.GuestRead(Huge + 8 * Page, 8).Data);
        Assert.Equal(MappingSize.Size4K, EptSize(m, Huge + 8 * Page));
        Assert.Equal(OutcomeKind.SigBus, m.GuestRead(poisoned, 8).Kind);
    }

    [Fact]
    public void MemoryFailure_OfOneSubpageOfAHugetlbPage_ZapsTheWhole2MiBLeaf()
    {
        var m = Machine(BackingKind.Hugetlb);
        WriteEveryPage(m);

        Assert.Equal(OutcomeKind.Ok, m.MemoryError(Huge + 7 * Page).Kind);

        Assert.DoesNotContain(EptLeaves(m), l => l.Gpa >= Huge && l.Gpa < 2 * Huge);
        // hugetlb poisons the whole huge page's mapping: every gpa of it is SIGBUS, the next huge page is untouched.
        Assert.Equal(OutcomeKind.SigBus, m.GuestRead(Huge + 8 * Page, 8).Kind);
        Assert.Equal(BitConverter.GetBytes(2 * Huge + 1), m.GuestRead(2 * Huge, 8).Data);
    }

    [Fact]
    public void Munmap_OfOneHugetlb4KiBPage_NeverLetsA2MiBLeafReachTheUnmappedPage()
    {
        // The model's munmap takes a 4 KiB piece of a hugetlb mapping (Linux says EINVAL), and its hugetlb fault then maps
        // 2 MiB across the VMA's edge: KVM's side keeps to the VMA, so the guest sees what it sees with 4 KiB leaves.
        var on = Machine(BackingKind.Hugetlb);
        var off = Machine(BackingKind.Hugetlb, hugeEpt: false);
        foreach (var m in new[] { on, off }) Assert.Equal(OutcomeKind.Ok, m.Munmap(Huge + 4 * Page, Page).Kind);

        foreach (var gpa in new[] { Huge, Huge + 4 * Page, Huge + 3 * Page, Huge + 5 * Page, Huge + 4 * Page })
            Assert.Equal(OutcomeJson.ToJson(off.GuestRead(gpa, 8)), OutcomeJson.ToJson(on.GuestRead(gpa, 8)));
        Assert.Equal(OutcomeKind.Errno, on.GuestRead(Huge + 4 * Page, 8).Kind);
        Assert.DoesNotContain(EptLeaves(on), l => l.Size == MappingSize.Size2M && l.Gpa == Huge);
    }

    [Fact]
    public void MadviseDontneed_OfOne4KiBPage_ZapsTheWhole2MiBLeaf()
    {
        var m = Machine(BackingKind.Anon, thp: true);
        WriteEveryPage(m);

        Assert.Equal(OutcomeKind.Ok, m.Madvise(Huge + 2 * Page, Page, "DONTNEED").Kind);

        Assert.DoesNotContain(EptLeaves(m), l => l.Gpa >= Huge && l.Gpa < 2 * Huge);
        Assert.Equal(new byte[8], m.GuestRead(Huge + 2 * Page, 8).Data);
        Assert.Equal(BitConverter.GetBytes(Huge + 3 * Page + 1), m.GuestRead(Huge + 3 * Page, 8).Data);
    }

    [Fact]
    public void InspectState_NamesEptHuge_OnlyWithTheOption()
    {
        var on = Machine(BackingKind.Hugetlb);
        var off = Machine(BackingKind.Hugetlb, hugeEpt: false);
        on.GuestWrite(0, [1]);
        off.GuestWrite(0, [1]);

        Assert.Equal(true, on.Inspect(Page)["eptHuge"]);
        Assert.False(off.Inspect(Page).ContainsKey("eptHuge"));
    }
}
