using CsCheck;
using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>The soft TLB as a table (against a dictionary) and its invalidation by the EPT and by the controller.</summary>
public class SoftTlbTests
{
    private const ulong Gpa = 0x3000;

    [Fact]
    public void FillsRemovesAndFlushes_AgreeWithADictionary_ThroughGrowth()
    {
        var gen = Gen.Select(Gen.Int[0, 9], Gen.ULong[0, 3000], Gen.Bool).Array[1, 2000];
        gen.Sample(ops =>
        {
            var tlb = new SoftTlb();
            var model = new Dictionary<(ulong, bool), ulong>();
            foreach (var (kind, gfn, isPrivate) in ops)
            {
                if (kind == 0)
                {
                    tlb.Invalidate(gfn << PageGeometry.PageShift, PageGeometry.PageSize * (1 + gfn % 3));
                    for (var g = gfn; g < gfn + 1 + gfn % 3; g++)
                    {
                        model.Remove((g, false));
                        model.Remove((g, true));
                    }
                }
                else if (kind == 1 && gfn % 50 == 0)
                {
                    tlb.Flush();
                    model.Clear();
                }
                else
                {
                    var leaf = PteValue.Leaf(new Pfn(gfn * 7 + (isPrivate ? 1UL : 0)), writable: true);
                    tlb.Fill(gfn, isPrivate, leaf, MappingSize.Size4K, null, null);
                    model[(gfn, isPrivate)] = leaf.Raw;
                }
                Assert.Equal(model.Count, tlb.Count);
            }
            foreach (var ((gfn, isPrivate), leaf) in model)
            {
                ref var entry = ref tlb.Find(gfn, isPrivate);
                Assert.False(System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry), $"gfn {gfn} private {isPrivate} lost");
                Assert.Equal(leaf, entry.Leaf);
            }
            for (var gfn = 0UL; gfn <= 3000; gfn += 7)
                if (!model.ContainsKey((gfn, false))) Assert.True(System.Runtime.CompilerServices.Unsafe.IsNullRef(ref tlb.Find(gfn, false)));
        }, iter: 200);
    }

    [Fact]
    public void GuestAccess_FillsTheSoftTlb_WithTheFramesBytes_AndReadsWhatTheHostWrote()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.GuestWrite(Gpa, [1, 2, 3, 4]));
        var vm = m.VmNamed();

        Assert.Equal(1, vm.SoftTlb.Count);
        ref var entry = ref vm.SoftTlb.Find(Gpa >> PageGeometry.PageShift, isPrivate: false);
        Assert.True(entry.Grants(write: false) && entry.Grants(write: true));
        Expect.Ok(m.HostWrite(Gpa + 2, [9]));
        Assert.Equal([1, 2, 9, 4], Expect.Data(m.GuestRead(Gpa, 4)));
    }

    [Fact]
    public void EptZap_DropsTheSoftEntry_ButTheSemanticTlbKeepsTranslatingUntilTheFlush()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.GuestWrite(Gpa, [1, 2, 3, 4]));
        var vm = m.VmNamed();
        var faults = m.Ledger.Count(CostKind.EptFault);

        Assert.True(m.Kernel.Kvm.ZapEptLeaf(vm, Gpa, out _));

        Assert.Equal(0, vm.SoftTlb.Count);
        Assert.Equal(1, vm.SoftTlb.Invalidations);
        Assert.Equal([1, 2, 3, 4], Expect.Data(m.GuestRead(Gpa, 4)));
        Assert.Equal(0, vm.SoftTlb.Count); // the stale translation is not cached: the EPT no longer has it
        Assert.Equal(faults, m.Ledger.Count(CostKind.EptFault));
    }

    [Fact]
    public void PoisonedLine_RevokesTheGrants_SoTheNextLoadConsumesThePoison()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.GuestWrite(Gpa, [1, 2, 3, 4]));
        var vm = m.VmNamed();
        Expect.Data(m.GuestRead(Gpa, 4));

        m.Kernel.Memory.PoisonLine(m.FrameOf(Gpa), 0);

        Assert.Equal(0, vm.SoftTlb.Count);
        Assert.Equal(1, vm.SoftTlb.Flushes);
        Assert.NotEqual(OutcomeKind.Ok, m.GuestRead(Gpa, 4).Kind);
    }

    [Fact]
    public void ReadOfAnUnwrittenFrame_CachesTheTranslationOnly_AndTheFirstWriteAddsTheBytes()
    {
        var m = TestMachine.Create();
        var vm = m.VmNamed();
        Assert.Equal(new byte[4], Expect.Data(m.GuestRead(Gpa, 4)));
        Assert.Equal(new byte[4], Expect.Data(m.GuestRead(Gpa, 4)));
        ref var before = ref vm.SoftTlb.Find(Gpa >> PageGeometry.PageShift, isPrivate: false);
        Assert.False(before.Grants(write: false));

        Expect.Ok(m.HostWrite(Gpa, [5]));
        Assert.Equal([5, 0], Expect.Data(m.GuestRead(Gpa, 2)));
    }

    [Fact]
    public void DestroyedVm_KeepsNoSoftEntry_SoItsCachedPageFailsAsTheSlowPathSays()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.GuestWrite(Gpa, [1, 2, 3, 4]));
        var vm = m.VmNamed();
        Assert.Equal([1, 2, 3, 4], Expect.Data(m.GuestRead(Gpa, 4)));

        m.Kernel.Kvm.DestroyVm(vm);

        Assert.Equal(0, vm.SoftTlb.Count);
        Assert.NotEqual(OutcomeKind.Ok, m.GuestRead(Gpa, 4).Kind);
    }

    [Fact]
    public void DeadVm_KeepsNoSoftEntry_SoItsCachedPageIsTheFatalError()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.GuestWrite(Gpa, [1, 2, 3, 4]));
        var vm = m.VmNamed();
        Assert.Equal([1, 2, 3, 4], Expect.Data(m.GuestRead(Gpa, 4)));

        vm.Dead = true; // as GuestConsumed marks a TD fatal (H6)

        Assert.Equal(0, vm.SoftTlb.Count);
        Assert.NotEqual(OutcomeKind.Ok, m.GuestRead(Gpa, 4).Kind);
    }

    [Fact]
    public void SoftTlbSwitchedOff_DropsWhatItHeld()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.GuestWrite(Gpa, [1, 2, 3, 4]));
        var vm = m.VmNamed();
        m.Kernel.Kvm.SoftTlbEnabled = false;

        Assert.Equal(0, vm.SoftTlb.Count);
        Assert.Equal([1, 2, 3, 4], Expect.Data(m.GuestRead(Gpa, 4)));
        Assert.Equal(0, vm.SoftTlb.Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FrameAHardwareOpActedOn_IsNotedByLaterAccesses_ThatTheSoftTlbWouldHaveServed(bool host)
    {
        // lost err follows a memory error by its frame: once a hardware op acted on a frame, every step that reads it must
        // say so, so the soft TLBs' direct hits (which note nothing) step aside from then on.
        var m = TestMachine.Create();
        Expect.Ok(m.GuestWrite(Gpa, [1, 2, 3, 4]));
        Assert.Equal([1, 2, 3, 4], Expect.Data(host ? m.HostRead(Gpa, 4) : m.GuestRead(Gpa, 4)));
        var pfn = m.FrameOf(Gpa);
        Assert.Equal([1, 2, 3, 4], Expect.Data(host ? m.HostRead(Gpa, 4) : m.GuestRead(Gpa, 4)));
        Assert.Empty(m.Simulation.LastFrames); // nothing watched yet: a hit notes nothing

        m.Run("hw.unpoison", vm: null, pfn: pfn.Value); // a clean frame: unpoison refuses, but the op acted on it

        Assert.Equal([1, 2, 3, 4], Expect.Data(host ? m.HostRead(Gpa, 4) : m.GuestRead(Gpa, 4)));
        Assert.Contains(pfn.Value, m.Simulation.LastFrames);
    }
}
