using Vmm.Abstractions;
using Vmm.Plugins.HwPoison.Tests.Infrastructure;

namespace Vmm.Plugins.HwPoison.Tests;

/// <summary>The share/unshare hypercalls (kvm_share_memory and the v2 extension back to private).</summary>
public class ConvertTests
{
    private static (HwPoisonPolicy Policy, FakeHostKernel Kernel, VmInfo Td1, VmInfo Td2) Machine(bool v2, int maxSharedRanges = 32, bool trackReason = false)
    {
        var options = new HwPoisonOptions { MaxSharedRanges = maxSharedRanges, TrackReason = trackReason };
        var kernel = new FakeHostKernel();
        HwPoisonPolicy policy = v2 ? new HwPoisonV2Policy(options, kernel.Services) : new HwPoisonV1Policy(options, kernel.Services);
        return (policy, kernel, kernel.AddVm("td1"), kernel.AddVm("td2"));
    }

    private static Gpa GpaOf(ulong gfn) => new Gfn(gfn).ToGpa();

    private static bool Poisoned(FakeHostKernel kernel, Pfn pfn) => (kernel.GetFlags(pfn) & FrameFlags.HwPoison) != 0;

    [Fact]
    public void ConvertToPrivate_InV1_IsEnosys()
    {
        var (policy, _, td1, _) = Machine(v2: false);

        var outcome = policy.OnConvert(new Conversion(td1, GpaOf(3), PageGeometry.PageSize, true));

        Assert.NotNull(outcome);
        Assert.Equal(OutcomeKind.Errno, outcome.Kind);
        Assert.Equal(Errno.ENOSYS, outcome.Errno);
    }

    [Fact]
    public void ConvertToShared_InV1_UnpoisonsEvenAFramePoisonedForAnotherVm()
    {
        var (policy, kernel, td1, td2) = Machine(v2: false);
        var frame = kernel.AddFrame(td1, 3, 0x40);
        kernel.AddFrame(td2, 3, 0x40);
        Assert.Equal(GuestFaultAction.Map, policy.OnGuestFault(new GuestFault(td1, new Gfn(3), frame, true)));

        Assert.Null(policy.OnConvert(new Conversion(td2, GpaOf(3), PageGeometry.PageSize, false)));

        Assert.False(Poisoned(kernel, frame)); // no ownership check in v1
    }

    [Fact]
    public void ConvertToShared_InV2_ClearsOnlyFramesThisVmOwns()
    {
        var (policy, kernel, td1, td2) = Machine(v2: true);
        var own = kernel.AddFrame(td1, 0, 0x40);
        var foreign = kernel.AddFrame(td1, 1, 0x41);
        kernel.AddFrame(td2, 9, 0x41);
        var untouched = kernel.AddFrame(td1, 2, 0x42);
        Assert.Equal(GuestFaultAction.Map, policy.OnGuestFault(new GuestFault(td1, new Gfn(0), own, true)));
        Assert.Equal(GuestFaultAction.Map, policy.OnGuestFault(new GuestFault(td2, new Gfn(9), foreign, true)));

        Assert.Null(policy.OnConvert(new Conversion(td1, GpaOf(0), 3 * PageGeometry.PageSize, false)));

        Assert.Equal(FrameFlags.InUse | FrameFlags.SwapBacked, kernel.GetFlags(own));
        Assert.Equal(VmId.None, kernel.GetOwner(own));
        Assert.True(Poisoned(kernel, foreign));
        Assert.Equal(td2.Id, kernel.GetOwner(foreign));
        Assert.Equal(FrameFlags.InUse | FrameFlags.SwapBacked, kernel.GetFlags(untouched));
        Assert.Empty(kernel.Warnings);
    }

    [Fact]
    public void ConvertToShared_InV2_WithTrackReason_KeepsAFrameWithARealErrorPoisoned()
    {
        var (policy, kernel, td1, _) = Machine(v2: true, trackReason: true);
        var frame = kernel.AddFrame(td1, 0, 0x40);
        policy.OnGuestFault(new GuestFault(td1, new Gfn(0), frame, true));
        policy.OnMemoryFailure(new FailedFrame(frame, false));

        Assert.Null(policy.OnConvert(new Conversion(td1, GpaOf(0), PageGeometry.PageSize, false)));

        Assert.True(Poisoned(kernel, frame));
        Assert.Equal(td1.Id, kernel.GetOwner(frame));
    }

    [Fact]
    public void SharedGfn_IsNotPoisonedOnPrivateFault_UntilConvertedBackInV2()
    {
        var (policy, kernel, td1, _) = Machine(v2: true);
        var frame = kernel.AddFrame(td1, 4, 0x40);
        Assert.Null(policy.OnConvert(new Conversion(td1, GpaOf(4), PageGeometry.PageSize, false)));

        Assert.Equal(GuestFaultAction.Map, policy.OnGuestFault(new GuestFault(td1, new Gfn(4), frame, true)));
        Assert.False(Poisoned(kernel, frame));

        Assert.Null(policy.OnConvert(new Conversion(td1, GpaOf(4), PageGeometry.PageSize, true)));
        Assert.Equal(GuestFaultAction.Map, policy.OnGuestFault(new GuestFault(td1, new Gfn(4), frame, true)));
        Assert.True(Poisoned(kernel, frame));
        Assert.Equal(td1.Id, kernel.GetOwner(frame));
    }

    [Fact]
    public void ConvertToShared_ThirtyThirdDisjointRange_WarnsOnceAndIsNotRemembered()
    {
        var (policy, kernel, td1, _) = Machine(v2: true);
        for (ulong i = 0; i < 32; i++)
            Assert.Null(policy.OnConvert(new Conversion(td1, GpaOf(2 * i), PageGeometry.PageSize, false)));
        Assert.Empty(kernel.Warnings);

        Assert.Null(policy.OnConvert(new Conversion(td1, GpaOf(64), PageGeometry.PageSize, false)));

        var warning = Assert.Single(kernel.Warnings);
        Assert.Contains("KVM_NR_SHARED_RANGES", warning);
        Assert.Contains("0x40", warning);
        var remembered = kernel.AddFrame(td1, 62, 0x80);
        var forgotten = kernel.AddFrame(td1, 64, 0x81);
        policy.OnGuestFault(new GuestFault(td1, new Gfn(62), remembered, true));
        policy.OnGuestFault(new GuestFault(td1, new Gfn(64), forgotten, true));
        Assert.False(Poisoned(kernel, remembered));
        Assert.True(Poisoned(kernel, forgotten));
    }

    [Fact]
    public void ConvertToShared_RangeTouchingAnExistingOne_MergesInsteadOfWarning()
    {
        var (policy, kernel, td1, _) = Machine(v2: true, maxSharedRanges: 1);
        Assert.Null(policy.OnConvert(new Conversion(td1, GpaOf(0), PageGeometry.PageSize, false)));

        Assert.Null(policy.OnConvert(new Conversion(td1, GpaOf(1), PageGeometry.PageSize, false)));
        Assert.Empty(kernel.Warnings);
        Assert.Null(policy.OnConvert(new Conversion(td1, GpaOf(5), PageGeometry.PageSize, false)));
        Assert.Single(kernel.Warnings);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ConvertToShared_Of64TiB_AsksForTheRangesFramesOnceAndNeverLooksUpEachGfn(bool v2)
    {
        var (policy, kernel, td1, _) = Machine(v2);
        var low = kernel.AddFrame(td1, 3, 0x40);
        var high = kernel.AddFrame(td1, (1UL << 18) - 1, 0x41); // the VM's last gfn
        policy.OnGuestFault(new GuestFault(td1, new Gfn(3), low, true));
        policy.OnGuestFault(new GuestFault(td1, new Gfn((1UL << 18) - 1), high, true));

        Assert.Null(policy.OnConvert(new Conversion(td1, GpaOf(0), 64UL << 40, false)));

        Assert.False(Poisoned(kernel, low));
        Assert.False(Poisoned(kernel, high));
        Assert.Equal(1, kernel.FramesOfCalls); // one walk of the frames present, not 2^34 per-gfn lookups
    }

    [Fact]
    public void ConvertToShared_OfARangeThatWouldWrap_EndsAtTheTopOfTheGfnSpace()
    {
        var (policy, kernel, td1, _) = Machine(v2: true);
        var frame = kernel.AddFrame(td1, 9, 0x40);
        policy.OnGuestFault(new GuestFault(td1, new Gfn(9), frame, true));

        Assert.Null(policy.OnConvert(new Conversion(td1, GpaOf(9), ulong.MaxValue, false)));

        Assert.False(Poisoned(kernel, frame));
        Assert.Empty(kernel.Warnings);
    }

    [Fact]
    public void Options_NegativeMaxSharedRanges_IsRejectedWithTheOptionName()
    {
        var e = Assert.Throws<ComponentOptionsException>(() => new HwPoisonV2Policy(new HwPoisonOptions { MaxSharedRanges = -1 }, new FakeHostKernel().Services));
        Assert.Contains("maxSharedRanges", e.Message);
    }
}
