using System.Security.Cryptography;
using Vmm.Abstractions;
using Vmm.Plugins.Tdx.Ci;
using Vmm.Plugins.Tdx.Tests.Infrastructure;
using Vmm.Tests.Shared;

namespace Vmm.Plugins.Tdx.Tests.Ci;

/// <summary>The managed KMAC128 of the "sha3" MAC: NIST's vectors, and bit-identical to OpenSSL's KMAC128 it replaced.</summary>
public sealed class Sha3LineMacTests
{
    private static readonly byte[] MacKey = Convert.FromHexString("5444582d43692d6d61632d6b65792121");

    // NIST SP 800-185 KMAC samples #1 and #2 (KMAC_samples.pdf): key 40..5F, data 00 01 02 03, L = 256.
    [Theory]
    [InlineData("", "E5780B0D3EA6F7D3A429C5706AA43A00FADBD7D49628839E3187243F456EE14E")]
    [InlineData("My Tagged Application", "3B1FBA963CD8B0B59E8C1A6D71888B7143651AF8BA0A7070C0979E2811324AA5")]
    public void Kmac128_OfNistSamples_GivesThePublishedTags(string customization, string expected)
    {
        var key = Enumerable.Range(0x40, 32).Select(b => (byte)b).ToArray();
        var tag = new byte[32];

        Keccak.Kmac128(key, [0, 1, 2, 3], tag, System.Text.Encoding.ASCII.GetBytes(customization));

        Assert.Equal(expected, Convert.ToHexString(tag));
    }

    [Sha3Fact]
    public void Kmac128_OfRandomKeysDataAndCustomizations_EqualsOpenSsl()
    {
        var random = new Random(12);
        for (var i = 0; i < 300; i++)
        {
            // Lengths across the 168-byte rate, so multi-block absorbs and padding at every position are met.
            var key = new byte[random.Next(4, 200)]; // OpenSSL refuses KMAC keys under 4 bytes
            var data = new byte[random.Next(0, 500)];
            var customization = new byte[random.Next(0, 200)];
            var tag = new byte[random.Next(1, 168)];
            random.NextBytes(key);
            random.NextBytes(data);
            random.NextBytes(customization);

            Keccak.Kmac128(key, data, tag, customization);

            Assert.Equal(Kmac128.HashData(key, data, tag.Length, customization), tag);
        }
    }

    [Sha3Fact]
    public void Compute_OfRandomLinesAddressesKeysAndOwners_EqualsTheOpenSslMac()
    {
        var random = new Random(34);
        var line = new byte[PageGeometry.LineSize];
        foreach (var macKey in new[] { MacKey, Convert.FromHexString("00112233445566778899aabbccddeeff") })
        {
            var managed = new Sha3LineMac(macKey);
            var oracle = new OpenSslSha3LineMac(macKey);
            for (var i = 0; i < 5000; i++)
            {
                random.NextBytes(line);
                var address = (ulong)random.NextInt64() & ~(ulong)(PageGeometry.LineSize - 1);
                var key = new KeyId((ushort)random.Next(0, 1 << 15));
                var owner = random.Next(2) == 1;

                Assert.Equal(oracle.Compute(line, address, key, owner), managed.Compute(line, address, key, owner));
            }
        }
    }

    [Fact]
    public void Compute_ReadsOnlyTheLinesFirst64Bytes_AndAllocatesNothing()
    {
        var mac = new Sha3LineMac(MacKey);
        var frame = new byte[2 * PageGeometry.LineSize];
        ControllerRig.Line(3).CopyTo(frame, 0);
        var expected = mac.Compute(frame.AsSpan(0, PageGeometry.LineSize), 0x4000, new KeyId(40), owner: true);
        frame[PageGeometry.LineSize] = 0xff;
        mac.Compute(frame, 0x4000, new KeyId(40), owner: true);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var last = 0u;
        for (var i = 0; i < 1000; i++) last = mac.Compute(frame, 0x4000, new KeyId(40), owner: true);

        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
        Assert.Equal(expected, last);
    }
}
