using Vmm.Abstractions;
using Vmm.Plugins.HwPoison.Tests.Infrastructure;

namespace Vmm.Plugins.HwPoison.Tests;

/// <summary>
/// The hooks of hwpoison-v1 and hwpoison-v2 that answer the kernel (do_swap_page / follow_page_pte on a
/// hwpoison entry, free_pages_prepare, memory_failure), on a <see cref="FakeHostKernel"/> whose frames
/// the policy poisons through its own guest-fault hook.
/// </summary>
public class PolicyHookMatrixTests
{
    private const ulong Gfn = 5;
    private const ulong PfnValue = 0x40;

    private static HwPoisonPolicy Policy(FakeHostKernel kernel, bool v2, bool trackReason = false)
    {
        var options = new HwPoisonOptions { TrackReason = trackReason };
        return v2 ? new HwPoisonV2Policy(options, kernel.Services) : new HwPoisonV1Policy(options, kernel.Services);
    }

    /// <summary>A policy on a fake kernel with one protected shmem VM whose gfn 5 is frame 0x40.</summary>
    private static (HwPoisonPolicy Policy, FakeHostKernel Kernel, VmInfo Vm, Pfn Frame) Machine(bool v2, bool trackReason = false)
    {
        var kernel = new FakeHostKernel();
        var policy = Policy(kernel, v2, trackReason);
        var vm = kernel.AddVm("td1");
        var frame = kernel.AddFrame(vm, Gfn, PfnValue);
        return (policy, kernel, vm, frame);
    }

    private static void PoisonThroughGuestFault(HwPoisonPolicy policy, FakeHostKernel kernel, VmInfo vm, Pfn frame)
    {
        Assert.Equal(GuestFaultAction.Map, policy.OnGuestFault(new GuestFault(vm, new Gfn(Gfn), frame, true)));
        Assert.True((kernel.GetFlags(frame) & FrameFlags.PolicyPoison) != 0, "the guest fault did not poison the frame");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GuestFault_TakesMmuLockForWrite_TwicePerPrivateFault_OncePerSharedGfn_NeverForAnUnprotectedVm(bool v2)
    {
        var (policy, kernel, vm, frame) = Machine(v2);

        PoisonThroughGuestFault(policy, kernel, vm, frame);
        Assert.Equal(2, kernel.Ledger.Count(CostKind.MmuLockWrite)); // gfn_is_shared, then again under the page lock

        policy.OnGuestFault(new GuestFault(vm, new Gfn(Gfn), frame, true)); // already poisoned: both checks still run
        Assert.Equal(4, kernel.Ledger.Count(CostKind.MmuLockWrite));

        Assert.Null(policy.OnConvert(new Conversion(vm, new Gpa(Gfn << PageGeometry.PageShift), PageGeometry.PageSize, ToPrivate: false)));
        policy.OnGuestFault(new GuestFault(vm, new Gfn(Gfn), frame, true));
        Assert.Equal(5, kernel.Ledger.Count(CostKind.MmuLockWrite)); // a shared gfn returns after the first check

        var open = kernel.AddVm("vm", isProtected: false);
        policy.OnGuestFault(new GuestFault(open, new Gfn(Gfn), kernel.AddFrame(open, Gfn, PfnValue + 1), true));
        Assert.Equal(5, kernel.Ledger.Count(CostKind.MmuLockWrite));
    }

    public enum Access
    {
        /// <summary>A user load/store (do_swap_page).</summary>
        User,
        /// <summary>get_user_pages without FOLL_ALLOW_POISONED.</summary>
        Gup,
        /// <summary>get_user_pages with FOLL_ALLOW_POISONED (KVM's hva_to_pfn in v2).</summary>
        GupAllowPoisoned,
    }

    [Theory]
    [InlineData(false, Access.User, true, HwPoisonEntryAction.Poisoned)]
    [InlineData(false, Access.Gup, true, HwPoisonEntryAction.Allow)] // v1 commented the FOLL_ALLOW_POISONED check out
    [InlineData(false, Access.GupAllowPoisoned, true, HwPoisonEntryAction.Allow)]
    [InlineData(false, Access.User, false, HwPoisonEntryAction.Rebuild)]
    [InlineData(false, Access.Gup, false, HwPoisonEntryAction.Rebuild)]
    [InlineData(false, Access.GupAllowPoisoned, false, HwPoisonEntryAction.Rebuild)]
    [InlineData(true, Access.User, true, HwPoisonEntryAction.Poisoned)]
    [InlineData(true, Access.Gup, true, HwPoisonEntryAction.Poisoned)]
    [InlineData(true, Access.GupAllowPoisoned, true, HwPoisonEntryAction.Allow)]
    [InlineData(true, Access.User, false, HwPoisonEntryAction.Rebuild)]
    [InlineData(true, Access.Gup, false, HwPoisonEntryAction.Rebuild)]
    [InlineData(true, Access.GupAllowPoisoned, false, HwPoisonEntryAction.Rebuild)]
    public void HwPoisonEntry_ByAccessAndFramePoison_GivesTheRfcAnswer(bool v2, Access access, bool framePoisoned, HwPoisonEntryAction expected)
    {
        var (policy, kernel, vm, frame) = Machine(v2);
        PoisonThroughGuestFault(policy, kernel, vm, frame);
        if (!framePoisoned) Assert.Null(policy.OnConvert(new Conversion(vm, new Gfn(Gfn).ToGpa(), PageGeometry.PageSize, false)));
        Assert.Equal(framePoisoned, (kernel.GetFlags(frame) & FrameFlags.HwPoison) != 0);
        var flags = access switch
        {
            Access.User => GupFlags.None,
            Access.Gup => GupFlags.Get | GupFlags.HwPoison,
            _ => GupFlags.Get | GupFlags.HwPoison | GupFlags.AllowPoisoned,
        };

        var action = policy.OnHwPoisonEntry(new HwPoisonEntry(FakeHostKernel.Pid, vm.HvaOf(new Gfn(Gfn).ToGpa()), frame, flags));

        Assert.Equal(expected, action);
    }

    [Fact]
    public void HwPoisonEntry_UserAccessWithAllowPoisonedButNoGet_IsStillPoisoned()
    {
        var (policy, kernel, vm, frame) = Machine(v2: true);
        PoisonThroughGuestFault(policy, kernel, vm, frame);

        Assert.Equal(HwPoisonEntryAction.Poisoned, policy.OnHwPoisonEntry(new HwPoisonEntry(FakeHostKernel.Pid, vm.HvaBase, frame, GupFlags.AllowPoisoned)));
    }

    [Theory]
    [InlineData(false, GupFlags.HwPoison)]
    [InlineData(true, GupFlags.HwPoison | GupFlags.AllowPoisoned)]
    public void KvmGupFlags_ForProtectedVm_AddAllowPoisonedOnlyInV2(bool v2, GupFlags expected)
    {
        var (policy, kernel, vm, _) = Machine(v2);
        var plain = kernel.AddVm("vm", isProtected: false);

        Assert.Equal(expected, policy.KvmGupFlags(new KvmAccess(vm)));
        Assert.Equal(GupFlags.HwPoison, policy.KvmGupFlags(new KvmAccess(plain)));
    }

    [Fact]
    public void KvmPageAllowed_InV2_OnlyForTheOwner_InV1_ForEveryone()
    {
        var (v2, kernel2, td1, frame2) = Machine(v2: true);
        var td2 = kernel2.AddVm("td2");
        PoisonThroughGuestFault(v2, kernel2, td1, frame2);
        var (v1, kernel1, vm1, frame1) = Machine(v2: false);
        var other1 = kernel1.AddVm("td2");
        PoisonThroughGuestFault(v1, kernel1, vm1, frame1);

        Assert.True(v2.KvmPageAllowed(new KvmPage(td1, frame2)));
        Assert.False(v2.KvmPageAllowed(new KvmPage(td2, frame2)));
        Assert.True(v1.KvmPageAllowed(new KvmPage(other1, frame1)));
    }

    [Fact]
    public void OnFree_InV1_OfPolicyPoisonedFrame_IsDefault_SoTheFrameLeaks()
    {
        var (policy, kernel, vm, frame) = Machine(v2: false);
        PoisonThroughGuestFault(policy, kernel, vm, frame);

        Assert.Equal(FreeAction.Default, policy.OnFree(new FreedFrame(frame)));
    }

    [Fact]
    public void OnFree_InV2_OfOwnedFrame_ClearsPoisonAndFreesAndForgetsTheOwner()
    {
        var (policy, kernel, vm, frame) = Machine(v2: true);
        PoisonThroughGuestFault(policy, kernel, vm, frame);
        Assert.Equal(vm.Id, kernel.GetOwner(frame));

        Assert.Equal(FreeAction.ClearPoisonAndFree, policy.OnFree(new FreedFrame(frame)));
        Assert.Equal(VmId.None, kernel.GetOwner(frame));
        Assert.Equal(FreeAction.Default, policy.OnFree(new FreedFrame(frame))); // forgotten: a second free is the kernel's business
    }

    [Fact]
    public void OnFree_InV2_OfFrameThePolicyNeverPoisoned_IsDefault()
    {
        var (policy, kernel, _, frame) = Machine(v2: true);
        kernel.SetFlags(frame, FrameFlags.HwPoison | FrameFlags.RealError);

        Assert.Equal(FreeAction.Default, policy.OnFree(new FreedFrame(frame)));
        Assert.Equal(VmId.None, kernel.GetOwner(frame));
    }

    [Theory]
    [InlineData(true, FreeAction.Default)] // a really bad frame stays out of the allocator
    [InlineData(false, FreeAction.ClearPoisonAndFree)] // as posted: the real error is forgotten (the reviewers' objection)
    public void OnFree_InV2_OfOwnedFrameWithRealError_DependsOnTrackReason(bool trackReason, FreeAction expected)
    {
        var (policy, kernel, vm, frame) = Machine(v2: true, trackReason);
        PoisonThroughGuestFault(policy, kernel, vm, frame);
        policy.OnMemoryFailure(new FailedFrame(frame, false));
        kernel.SetFlags(frame, FrameFlags.RealError); // memory_failure marks it after the hook (MemoryFailure.Handle)

        Assert.Equal(expected, policy.OnFree(new FreedFrame(frame)));
    }

    [Fact]
    public void OnMemoryFailure_WithTrackReason_OnOwnedFrame_SignalsVmmOnceWithMceerrAoAtTheOwnersHva()
    {
        var (policy, kernel, vm, frame) = Machine(v2: true, trackReason: true);
        PoisonThroughGuestFault(policy, kernel, vm, frame);

        policy.OnMemoryFailure(new FailedFrame(frame, false));
        policy.OnMemoryFailure(new FailedFrame(frame, false));

        var signal = Assert.Single(kernel.Signals);
        Assert.Equal(SigBusCode.BUS_MCEERR_AO, signal.Code);
        Assert.Equal(12, signal.Lsb);
        Assert.Equal(vm.HvaOf(new Gfn(Gfn).ToGpa()), signal.Address);
        Assert.Contains("trackReason", signal.Reason);
        Assert.True((kernel.GetFlags(frame) & FrameFlags.RealError) != 0);
    }

    [Fact]
    public void OnMemoryFailure_WithTrackReason_OnFrameThePolicyDoesNotOwn_SignalsNothing()
    {
        var (policy, kernel, _, frame) = Machine(v2: true, trackReason: true);

        policy.OnMemoryFailure(new FailedFrame(frame, false));

        Assert.Empty(kernel.Signals);
        Assert.Equal(FrameFlags.None, kernel.GetFlags(frame) & FrameFlags.RealError);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void OnMemoryFailure_WithoutTrackReason_OnOwnedFrame_SignalsNothingAndKeepsNoReason(bool v2)
    {
        var (policy, kernel, vm, frame) = Machine(v2);
        PoisonThroughGuestFault(policy, kernel, vm, frame);

        policy.OnMemoryFailure(new FailedFrame(frame, true));

        Assert.Empty(kernel.Signals);
        Assert.Equal(FrameFlags.None, kernel.GetFlags(frame) & FrameFlags.RealError);
    }

    [Fact]
    public void PoisonedCachePageFault_IsBusAdrerr_AsTheShmemPatchFailsTheLookupWithEio()
    {
        var (policy, _, _, frame) = Machine(v2: true);

        Assert.Equal(SigBusCode.BUS_ADRERR, policy.OnPoisonedCachePage(new PoisonedCachePage(frame)));
    }
}
