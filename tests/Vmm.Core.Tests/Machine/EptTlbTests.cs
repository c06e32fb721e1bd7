using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>The vCPUs' TLB of EPT translations: hits skip the EPT walk, and a zapped entry stays usable until kvm_flush_remote_tlbs.</summary>
public class EptTlbTests
{
    private const ulong Gpa = 0x3000;

    [Fact]
    public void GuestRead_Repeated_HitsTheTlbInsteadOfWalkingTheEpt()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.GuestWrite(Gpa, [1, 2, 3, 4]));
        var walks = m.Ledger.Count(CostKind.EptWalk);
        var hits = m.Ledger.Count(CostKind.TlbHit);

        Expect.Data(m.GuestRead(Gpa, 4));
        Expect.Data(m.GuestRead(Gpa + 8, 4));

        Assert.Equal(walks, m.Ledger.Count(CostKind.EptWalk));
        Assert.Equal(hits + 2, m.Ledger.Count(CostKind.TlbHit));
    }

    [Fact]
    public void GuestRead_BetweenEptZapAndFlush_StillUsesTheStaleTranslation_AndFaultsAfterTheFlush()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.GuestWrite(Gpa, [1, 2, 3, 4]));
        var vm = m.VmNamed();
        var faults = m.Ledger.Count(CostKind.EptFault);

        Assert.True(m.Kernel.Kvm.ZapEptLeaf(vm, Gpa, out _));

        Assert.Equal([1, 2, 3, 4], Expect.Data(m.GuestRead(Gpa, 4))); // the window: EPT empty, TLB still translates
        Assert.True(vm.Ept.Lookup(Gpa, out _).IsNone);
        Assert.Equal(faults, m.Ledger.Count(CostKind.EptFault));

        var shootdowns = m.Ledger.Count(CostKind.TlbShootdown);
        m.Kernel.Kvm.FlushRemoteTlbs(vm, Gpa, TestMachine.Page);

        Assert.Equal(shootdowns + 1, m.Ledger.Count(CostKind.TlbShootdown));
        Assert.Equal([1, 2, 3, 4], Expect.Data(m.GuestRead(Gpa, 4)));
        Assert.Equal(faults + 1, m.Ledger.Count(CostKind.EptFault));
    }

    [Fact]
    public void HostMunmap_ZapsThenFlushes_SoTheGuestNeverUsesTheOldFrame()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.GuestWrite(Gpa, [1, 2, 3, 4]));
        var old = m.FrameOf(Gpa);
        var faults = m.Ledger.Count(CostKind.EptFault);

        Expect.Ok(m.Madvise(Gpa, TestMachine.Page, "DONTNEED"));

        Assert.Equal(new byte[4], Expect.Data(m.GuestRead(Gpa, 4)));
        Assert.Equal(faults + 1, m.Ledger.Count(CostKind.EptFault));
        Assert.NotEqual(old, m.VmNamed().Ept.Lookup(Gpa, out _).Pfn);
    }

    [Fact]
    public void EptTlb_Invalidate_DropsOnlyTheRange()
    {
        var tlb = new Tlb();
        tlb.Insert(0x1000, PteValue.Leaf(new Pfn(7), true), MappingSize.Size4K);
        tlb.Insert(0x2000, PteValue.Leaf(new Pfn(8), true), MappingSize.Size4K);

        tlb.Invalidate(0x1000, TestMachine.Page);

        Assert.False(tlb.TryLookup(0x1000, out _, out _));
        Assert.True(tlb.TryLookup(0x2000, out var entry, out _));
        Assert.Equal(new Pfn(8), entry.Pfn);
    }
}
