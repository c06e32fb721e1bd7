using System.Runtime.Intrinsics;
using CsCheck;
using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Ci;
using Vmm.Plugins.Tdx.Tests.Infrastructure;
using X86Aes = System.Runtime.Intrinsics.X86.Aes;

namespace Vmm.Plugins.Tdx.Tests.Ci;

public sealed class AesLineMacTests
{
    private static readonly byte[] MacKey = LineMacs.ParseKey(new TdxOptions().MacKey, "tdx.macKey");

    [LinuxFact]
    public void AesNi_IsUsed_OnThisMachine()
    {
        using var mac = new AesLineMac(MacKey);
        Assert.True(X86Aes.IsSupported, "the test machine is expected to have AES-NI");
        Assert.True(mac.UsesAesNi);
        Assert.Equal("aes (AES-NI)", mac.Name);
    }

    [Fact]
    public void Compute_WithForcePortable_UsesThePortablePath()
    {
        using var mac = new AesLineMac(MacKey, forcePortable: true);
        Assert.False(mac.UsesAesNi);
        Assert.Equal("aes (portable)", mac.Name);
    }

    [Fact]
    public void Compute_AesNiAndPortable_GiveTheSameMac()
    {
        Gen.Select(Gen.Byte.Array[16], Gen.Byte.Array[PageGeometry.LineSize], Gen.ULong, Gen.UShort, Gen.Bool).Sample((key, line, address, keyId, owner) =>
        {
            using var fast = new AesLineMac(key);
            using var portable = new AesLineMac(key, forcePortable: true);
            var expected = portable.Compute(line, address, new KeyId(keyId), owner);
            var actual = fast.Compute(line, address, new KeyId(keyId), owner);
            Assert.Equal(expected, actual);
        }, iter: 2000, threads: 1);
    }

    [Fact]
    public void Encrypt_Fips197AppendixC1_MatchesTheKnownAnswerAndSystemAesEcb()
    {
        var key = Convert.FromHexString("000102030405060708090a0b0c0d0e0f");
        var plaintext = Convert.FromHexString("00112233445566778899aabbccddeeff");
        var expected = Convert.FromHexString("69c4e0d86a7b0430d8cdb78070b4c55a");
        using var mac = new AesLineMac(key);
        Assert.True(mac.UsesAesNi, "Encrypt is the AES-NI path");

        var actual = new byte[16];
        mac.Encrypt(Vector128.Create(plaintext)).CopyTo(actual);

        using var system = System.Security.Cryptography.Aes.Create();
        system.Key = key;
        Assert.Equal(expected, system.EncryptEcb(plaintext, System.Security.Cryptography.PaddingMode.None));
        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Compute_Returns28BitValues(bool forcePortable)
    {
        using var mac = new AesLineMac(MacKey, forcePortable);
        var random = new Random(28);
        var line = new byte[PageGeometry.LineSize];
        var union = 0u;
        for (var i = 0; i < 2000; i++)
        {
            random.NextBytes(line);
            var value = mac.Compute(line, (ulong)random.NextInt64(), new KeyId((ushort)random.Next(64)), random.Next(2) == 1);
            Assert.Equal(0u, value & ~LineMacs.Mask28);
            union |= value;
        }
        Assert.Equal(LineMacs.Mask28, union); // all 28 bits are used, not fewer
    }

    [Theory]
    [InlineData("aes")]
    [InlineData("aes-portable")]
    public void Compute_DiffersByOwnerBitKeyIdAndAddress(string name) => AssertTweakMatters(CreateMac(name));

    [Fact]
    public void Compute_WithSha3_DiffersByOwnerBitKeyIdAndAddress() => AssertTweakMatters(CreateMac("sha3"));

    [Fact]
    public void Sha3_And_Aes_AreDifferentFunctions()
    {
        using var aes = new AesLineMac(MacKey);
        var sha3 = new Sha3LineMac(MacKey);
        var line = ControllerRig.Line(9);
        Assert.NotEqual(aes.Compute(line, 0x1000, new KeyId(40), true), sha3.Compute(line, 0x1000, new KeyId(40), true));
    }

    [Theory]
    [InlineData("0x12")]
    [InlineData("not hex at all, but 32 chars ok!")]
    [InlineData("")]
    public void ParseKey_RejectsAnythingButSixteenHexBytes(string text)
    {
        var e = Assert.Throws<ComponentOptionsException>(() => LineMacs.ParseKey(text, "tdx.macKey"));
        Assert.Equal("tdx.macKey", e.Option);
    }

    private static ILineMac CreateMac(string name) => name switch
    {
        "aes" => new AesLineMac(MacKey),
        "aes-portable" => new AesLineMac(MacKey, forcePortable: true),
        "sha3" => new Sha3LineMac(MacKey),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static void AssertTweakMatters(ILineMac mac)
    {
        var random = new Random(7);
        var line = new byte[PageGeometry.LineSize];
        for (var i = 0; i < 200; i++)
        {
            random.NextBytes(line);
            var address = (ulong)random.NextInt64(1L << 40) & ~63UL;
            var key = new KeyId((ushort)(32 + random.Next(32)));
            var mac0 = mac.Compute(line, address, key, owner: true);
            Assert.Equal(mac0, mac.Compute(line, address, key, owner: true));
            Assert.NotEqual(mac0, mac.Compute(line, address, key, owner: false));
            Assert.NotEqual(mac0, mac.Compute(line, address, new KeyId((ushort)(key.Value ^ 1)), owner: true));
            Assert.NotEqual(mac0, mac.Compute(line, address + PageGeometry.LineSize, key, owner: true));
            Assert.NotEqual(mac0, mac.Compute(line, address ^ (1UL << 46), key, owner: true));
        }
        (mac as IDisposable)?.Dispose();
    }
}
